//go:build openblas && cgo

package nn

import (
	"gonum.org/v1/gonum/blas"

	"github.com/bertserve/bertserve/head/internal/nn/openblas"
)

// With the openblas build tag every float32 product goes to OpenBLAS's
// cblas_sgemm: the build that measures a whole training step on
// OpenBLAS against the Go kernels (BENCHMARKS.md). It is not a supported
// configuration: results then depend on OpenBLAS's kernels.
func init() {
	useBlocked = false
	gemm32 = func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		openblas.Sgemm(tA == blas.Trans, tB == blas.Trans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}
