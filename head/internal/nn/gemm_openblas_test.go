//go:build openblas && cgo

package nn

import "github.com/bertserve/bertserve/head/internal/nn/openblas"

func init() {
	gemmCandidates = append(gemmCandidates, struct {
		name string
		f    func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	}{"openblas", openblas.Sgemm})
}
