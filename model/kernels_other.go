//go:build !amd64 || noasm

package model

// hasAVX2FMA is false: this build has no assembly kernels.
const hasAVX2FMA = false

// nllRow32 returns the negative log-likelihood sum_i softplus(l_i) - x_i l_i
// of one row and writes sigmoid(l_i) - x_i into resid.
func nllRow32(l, x, resid []float32) float64 {
	return nllRowGo(l, x, resid, expNegFast, log1pUnit)
}

// expNeg32 sets a[i] = exp(-a[i]) for every a[i] >= 0.
func expNeg32(a []float32) {
	for i, v := range a {
		a[i] = float32(expNegFast(float64(v)))
	}
}

// biasAct32 is biasActGo for float32.
func biasAct32(y, b []float32, relu bool) { biasActGo(y, b, relu) }

// reluMask32 is reluMaskGo for float32.
func reluMask32(d, y, dy []float32) { reluMaskGo(d, y, dy) }

// colSum32 is colSumGo for float32, over all len(s) columns.
func colSum32(s, d []float32, rows int) { colSumGo(s, d, rows, len(s)) }
