//go:build amd64 && !purego

package nn

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// TestSgemm512MatchesGonum checks the AVX-512 blocked product against
// gonum's Sgemm on shapes that exercise every edge (partial row tiles
// and column panels, several k and column blocks, transposes, alpha,
// beta, bias), and that the result is bit-identical whatever the number
// of workers.
func TestSgemm512MatchesGonum(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512 on this machine: the blocked kernel is not used")
	}
	// not parallel: it changes GOMAXPROCS and inPlaceB
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func() { inPlaceB = true }()
	rng := NewRNG(1)
	shapes := [][3]int{{1, 1, 1}, {1, 16, 8}, {12, 32, 1}, {7, 17, 9}, {13, 33, 257}, {64, 256, 384}, {25, 600, 70},
		{100, 5, 300}, {8, 384, 1280}, {40, 40, 32}, {130, 520, 513}}
	for _, s := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
					for _, withBias := range []bool{false, true} {
						m, n, k := s[0], s[1], s[2]
						name := fmt.Sprintf("%dx%dx%d tA=%v tB=%v alpha=%v beta=%v bias=%v", m, n, k, tA, tB, ab[0], ab[1], withBias)
						// padded leading dimensions catch stride mistakes
						lda, ldb, ldc := k+3, n+5, n+2
						if tA {
							lda = m + 3
						}
						if tB {
							ldb = k + 5
						}
						a := make([]float32, max(m, k)*lda)
						b := make([]float32, max(k, n)*ldb)
						c0 := make([]float32, m*ldc)
						Uniform(rng, a, 1)
						Uniform(rng, b, 1)
						Uniform(rng, c0, 1)
						var bias []float32
						want := append([]float32(nil), c0...)
						if withBias {
							bias = make([]float32, n)
							Uniform(rng, bias, 1)
							for i := 0; i < m; i++ {
								for j := 0; j < n; j++ {
									want[i*ldc+j] = want[i*ldc+j]*ab[1] + bias[j]
								}
							}
						}
						ta, tb := blas.NoTrans, blas.NoTrans
						if tA {
							ta = blas.Trans
						}
						if tB {
							tb = blas.Trans
						}
						beta := ab[1]
						if withBias {
							beta = 1
						}
						impl.Sgemm(ta, tb, m, n, k, ab[0], a, lda, b, ldb, beta, want, ldc)
						var ref []float32
						for _, procs := range []int{1, 2, 3, -1} {
							inPlaceB = procs > 0 // -1: B always packed
							runtime.GOMAXPROCS(max(procs, 2))
							got := append([]float32(nil), c0...)
							sgemm512(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc, bias)
							for i := range want {
								if i%ldc >= n {
									if got[i] != c0[i] {
										t.Fatalf("%s: wrote outside C at %d", name, i)
									}
									continue
								}
								if math.Abs(float64(got[i]-want[i])) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(float64(want[i]))) {
									t.Fatalf("%s: element %d = %v, gonum %v", name, i, got[i], want[i])
								}
							}
							if ref == nil {
								ref = got
								continue
							}
							for i := range got {
								if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
									t.Fatalf("%s: element %d differs with %d cores (-1: B packed): %v vs %v", name, i, procs, got[i], ref[i])
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestTranspose16(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	t.Parallel()
	src := make([]float32, 16*21)
	Uniform(NewRNG(3), src, 1)
	dst := make([]float32, 16*19)
	transpose16(&src[0], 21*4, &dst[0], 19*4)
	for i := 0; i < 16; i++ {
		for j := 0; j < 16; j++ {
			if dst[j*19+i] != src[i*21+j] {
				t.Fatalf("dst[%d][%d] = %v, src[%d][%d] = %v", j, i, dst[j*19+i], i, j, src[i*21+j])
			}
		}
		for j := 16; j < 19; j++ {
			if dst[i*19+j] != 0 {
				t.Fatalf("wrote outside the block at row %d col %d", i, j)
			}
		}
	}
}
