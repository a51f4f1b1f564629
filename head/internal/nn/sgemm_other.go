//go:build !amd64 || purego

package nn

const haveFMA = false

func kernel6x16(k int, a, b, c []float32, ldc int, alpha float32) {
	panic("nn: no SIMD kernel on this platform")
}

func adamVec(m, v, w, g []float32, k *[8]float32) int { return 0 }

func geluVec(x, y, t []float32) int { return 0 }

// Dot returns Σ x[i]·y[i] (len(y) >= len(x)).
func Dot(x, y []float32) float32 { return impl.Sdot(len(x), x, 1, y, 1) }

// Axpy adds alpha·x to y (len(y) >= len(x)).
func Axpy(alpha float32, x, y []float32) { impl.Saxpy(len(x), alpha, x, 1, y, 1) }
