//go:build !noasm

package model

// biasActAVX is biasActGo on len(y) elements, a multiple of 8, eight at
// a time.
//
//go:noescape
func biasActAVX(y, b []float32, relu bool)

// reluMaskAVX2 is reluMaskGo on len(d) elements, a multiple of 8, eight
// at a time.
//
//go:noescape
func reluMaskAVX2(d, y, dy []float32)

// colSumAVX is colSumGo on the first len(s) columns, a multiple of 8,
// eight at a time; rows >= 1.
//
//go:noescape
func colSumAVX(s, d []float32, rows, stride int)

// biasAct32 is biasActGo for float32, eight elements at a time where the
// CPU has AVX2 (the same bits: one addition and one comparison each).
func biasAct32(y, b []float32, relu bool) {
	n := 0
	if hasAVX2FMA {
		n = len(y) &^ 7
		biasActAVX(y[:n], b[:n], relu)
	}
	biasActGo(y[n:], b[n:len(y)], relu)
}

// reluMask32 is reluMaskGo for float32, eight elements at a time where
// the CPU has AVX2 (the same bits).
func reluMask32(d, y, dy []float32) {
	n := 0
	if hasAVX2FMA {
		n = len(d) &^ 7
		reluMaskAVX2(d[:n], y[:n], dy[:n])
	}
	reluMaskGo(d[n:], y[n:len(d)], dy[n:len(d)])
}

// colSum32 is colSumGo for float32, eight columns at a time where the CPU
// has AVX2 (the same bits: each column is summed in row order).
func colSum32(s, d []float32, rows int) {
	n, stride := 0, len(s)
	if hasAVX2FMA && rows >= 1 {
		n = stride &^ 7
		colSumAVX(s[:n], d, rows, stride)
	}
	if n < stride {
		colSumGo(s[n:], d[n:], rows, stride)
	}
}
