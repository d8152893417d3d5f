//go:build !amd64 || noasm

package kernels

// HasAVX2FMA is false: this build has no assembly kernels.
const HasAVX2FMA = false

// hasAVX is false: this build has no assembly kernels.
const hasAVX = false

// The kernels' stand-ins, never called: HasAVX2FMA and hasAVX are false.
var kernelK, gumbelK *struct{}

func expNegAVX2(*struct{}, []float32)                                 {}
func nllAVX2(*struct{}, []float32, []float32, []float32, *[8]float64) {}
func gumbelAVX2(*struct{}, []float64, []float32)                      {}
func negLogAVX2(*struct{}, []float64, []float64)                      {}
func biasActAVX([]float32, []float32, bool)                           {}
func reluMaskAVX2([]float32, []float32, []float32)                    {}
func colSumAVX([]float32, []float32, int, int)                        {}
func adamAVX(*AdamRule, []float32, []float32, []float32, []float32) int {
	return 0
}
func momentumAVX(*[2]float32, []float32, []float32, []float32) int { return 0 }
func diffSumAVX([]float32, *[8]float32)                            {}
func shiftAVX2([]float32, []float32, int, float64, []float64)      {}
