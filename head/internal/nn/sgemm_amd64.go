//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha float32)

// haveFMA reports whether the AVX2/FMA kernel may run.
var haveFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// haveAVX512 reports whether the AVX-512 kernel may run (the CPU has
// AVX-512F and the OS saves the ZMM state; x/sys/cpu checks both).
var haveAVX512 = cpu.X86.HasAVX512F && haveFMA

//go:noescape
func transpose16(src *float32, lds uintptr, dst *float32, ldd uintptr)

//go:noescape
func sgemmKernel12x32(k int, a *float32, rsa, csa uintptr, b *float32, ldb uintptr, c *float32, ldc uintptr, alpha float32, flags int, bias *float32, mr int, mask uint32)

// kernel6x16 adds alpha·(A panel)·(B panel) to the 6×16 tile of c that
// starts at c[0] with row stride ldc.
func kernel6x16(k int, a, b, c []float32, ldc int, alpha float32) {
	_ = a[6*k-1]
	_ = b[16*k-1]
	_ = c[5*ldc+15]
	sgemmKernel6x16(k, &a[0], &b[0], &c[0], ldc, alpha)
}

//go:noescape
func adamStep8(n int, m, v, w, grad *float32, k *[8]float32)

// adamVec runs the vector AdamW update on the longest multiple of 8 and
// returns how many elements it did.
func adamVec(m, v, w, g []float32, k *[8]float32) int {
	n := len(m) &^ 7
	if !haveFMA || n == 0 {
		return 0
	}
	_, _, _ = v[n-1], w[n-1], g[n-1]
	adamStep8(n, &m[0], &v[0], &w[0], &g[0], k)
	return n
}

//go:noescape
func geluForward8(n int, x, y, t *float32)

// geluVec runs the vector GELU on the longest multiple of 8 elements and
// returns how many it did.
func geluVec(x, y, t []float32) int {
	n := len(x) &^ 7
	if !haveFMA || n == 0 {
		return 0
	}
	_, _ = y[n-1], t[n-1]
	geluForward8(n, &x[0], &y[0], &t[0])
	return n
}

//go:noescape
func sdot32(n int, x, y *float32) float32

//go:noescape
func saxpy32(n int, alpha float32, x, y *float32)

// Dot returns Σ x[i]·y[i] (len(y) >= len(x)).
func Dot(x, y []float32) float32 {
	n := len(x) &^ 31
	if !haveFMA || n == 0 {
		return impl.Sdot(len(x), x, 1, y, 1)
	}
	_ = y[len(x)-1]
	s := sdot32(n, &x[0], &y[0])
	if n < len(x) {
		s += impl.Sdot(len(x)-n, x[n:], 1, y[n:], 1)
	}
	return s
}

// Axpy adds alpha·x to y (len(y) >= len(x)).
func Axpy(alpha float32, x, y []float32) {
	n := len(x) &^ 31
	if !haveFMA || n == 0 {
		impl.Saxpy(len(x), alpha, x, 1, y, 1)
		return
	}
	_ = y[len(x)-1]
	saxpy32(n, alpha, &x[0], &y[0])
	if n < len(x) {
		impl.Saxpy(len(x)-n, alpha, x[n:], 1, y[n:], 1)
	}
}
