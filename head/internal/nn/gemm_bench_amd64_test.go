//go:build amd64 && !purego

package nn

func init() {
	type cand = struct {
		name string
		f    func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	}
	if haveFMA {
		gemmCandidates = append(gemmCandidates, cand{"avx2-6x16", func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			sgemmAuto(blasT(tA), blasT(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}})
	}
	if haveAVX512 {
		gemmCandidates = append(gemmCandidates, cand{"avx512-12x32", func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			sgemm512(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
		}})
	}
}
