//go:build !amd64 || purego

package nn

const (
	haveFMA    = false
	haveAVX512 = false
)

func sgemmKernel12x32(k int, a *float32, rsa, csa uintptr, b *float32, ldb uintptr, c *float32, ldc uintptr, alpha float32, flags int, bias *float32, mr int, mask uint32) {
	panic("nn: no SIMD kernel on this platform")
}

func kernel6x16(k int, a, b, c []float32, ldc int, alpha float32) {
	panic("nn: no SIMD kernel on this platform")
}

func adamVec(m, v, w, g []float32, k *[8]float32) int { return 0 }

func geluVec(x, y, t []float32) int { return 0 }

// Dot returns Σ x[i]·y[i] (len(y) >= len(x)).
func Dot(x, y []float32) float32 { return impl.Sdot(len(x), x, 1, y, 1) }

// Axpy adds alpha·x to y (len(y) >= len(x)).
func Axpy(alpha float32, x, y []float32) { impl.Saxpy(len(x), alpha, x, 1, y, 1) }

func expSubVec(x []float32, m float32) (int, float32) { return 0, 0 }

func geluErfVec(x, y, cdf []float32) int { return 0 }

func geluErfBackVec(x, cdf, dy, dx []float32) int { return 0 }

func transpose16(src *float32, lds uintptr, dst *float32, ldd uintptr) {
	panic("nn: no SIMD kernel on this platform")
}

const haveAVX512DQ = false

func softmaxRow16(n int, x, keep, pd *float32) { panic("nn: no SIMD kernel on this platform") }

func softmaxBack16(n int, d, p, keep *float32) { panic("nn: no SIMD kernel on this platform") }

func dropoutPairs8(k int, s uint64, mask *float32, thr uint32, keep float32) {
	panic("nn: no SIMD kernel on this platform")
}
