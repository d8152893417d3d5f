package kernels

import "math"

// BiasAct adds the bias b to the row y and, with relu, clamps it at 0 as
// the ReLU does: y = max(y + b, 0). Float32 rows run eight elements at a
// time where the CPU has AVX2, with the same bits as the Go loop (one
// addition and one comparison each).
func BiasAct[T Float](y, b []T, relu bool) {
	if y32, ok := any(y).([]float32); ok {
		b32 := any(b).([]float32)
		n := 0
		if HasAVX2FMA {
			n = len(y32) &^ 7
			biasActAVX(y32[:n], b32[:n], relu)
		}
		biasActGo(y32[n:], b32[n:len(y32)], relu)
		return
	}
	biasActGo(y, b, relu)
}

// biasActGo is BiasAct in Go.
func biasActGo[T Float](y, b []T, relu bool) {
	for j, bj := range b[:len(y)] {
		y[j] += bj
	}
	if relu {
		for j, v := range y {
			y[j] = max(v, 0)
		}
	}
}

// ReLUMask sets d = dy where y > 0 and 0 elsewhere, for ReLU outputs y
// (never negative): the gradient of a ReLU layer. Float32 runs eight at a
// time where the CPU has AVX2, with the same bits as reluMaskGo.
func ReLUMask[T Float](d, y, dy []T) {
	if d32, ok := any(d).([]float32); ok {
		y32, dy32 := any(y).([]float32), any(dy).([]float32)
		n := 0
		if HasAVX2FMA {
			n = len(d32) &^ 7
			reluMaskAVX2(d32[:n], y32[:n], dy32[:n])
		}
		reluMaskGo(d32[n:], y32[n:len(d32)], dy32[n:len(d32)])
		return
	}
	y, dy = y[:len(d)], dy[:len(d)]
	for i, v := range y {
		if v > 0 {
			d[i] = dy[i]
		} else {
			d[i] = 0
		}
	}
}

// reluMaskGo is ReLUMask for float32, selecting by the bits of y without
// a branch: half the outputs of a layer are 0, in no order a branch
// predictor could learn. d = dy where the bits of y read as an int32 are
// positive (y > 0, or a NaN without its sign bit, which passes the NaN
// on), else +0.
func reluMaskGo(d, y, dy []float32) {
	y, dy = y[:len(d)], dy[:len(d)]
	for i := range d {
		m := uint32(-int64(int32(math.Float32bits(y[i]))) >> 63) // all ones or zero
		d[i] = math.Float32frombits(math.Float32bits(dy[i]) & m)
	}
}

// ColSum sets s to the sum of the rows of the (rows, len(s)) matrix d,
// adding the rows in order: the gradient of a bias. Float32 runs eight
// columns at a time where the CPU has AVX2, with the same bits.
func ColSum[T Float](s, d []T, rows int) {
	stride := len(s)
	if s32, ok := any(s).([]float32); ok {
		d32 := any(d).([]float32)
		n := 0
		if HasAVX2FMA && rows >= 1 {
			n = stride &^ 7
			colSumAVX(s32[:n], d32, rows, stride)
		}
		if n < stride {
			colSumGo(s32[n:], d32[n:], rows, stride)
		}
		return
	}
	colSumGo(s, d, rows, stride)
}

// colSumGo sets s to the sum of the rows of d, whose rows are stride
// apart, over the first len(s) columns, adding the rows in order.
func colSumGo[T Float](s, d []T, rows, stride int) {
	copy(s, d[:len(s)])
	for r := 1; r < rows; r++ {
		for j, v := range d[r*stride : r*stride+len(s)] {
			s[j] += v
		}
	}
}
