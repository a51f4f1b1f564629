package nn

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// TestSgemmTiledMatchesGonum compares the float32 product (tiled, or
// transposed for narrow C) with gonum's Sgemm
// on shapes that exercise every edge: partial tiles, k beyond one block,
// transposes, alpha and beta.
func TestSgemmTiledMatchesGonum(t *testing.T) {
	if !haveFMA {
		t.Skip("no AVX2/FMA on this machine: the tiled kernel is not used")
	}
	t.Parallel()
	rng := NewRNG(1)
	shapes := [][3]int{{1, 16, 8}, {6, 16, 1}, {7, 17, 9}, {64, 256, 384}, {13, 50, 600}, {100, 33, 257}, {256, 384, 64}, {2, 256, 64},
		{128, 8, 512}, {512, 8, 128}, {100, 5, 300}, {64, 2, 384}}
	for _, s := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
					m, n, k := s[0], s[1], s[2]
					name := fmt.Sprintf("%dx%dx%d tA=%v tB=%v alpha=%v beta=%v", m, n, k, tA, tB, ab[0], ab[1])
					a := make([]float32, m*k)
					b := make([]float32, k*n)
					c0 := make([]float32, m*n)
					Uniform(rng, a, 1)
					Uniform(rng, b, 1)
					Uniform(rng, c0, 1)
					lda, ldb := k, n
					if tA {
						lda = m
					}
					if tB {
						ldb = k
					}
					want := append([]float32(nil), c0...)
					ta, tb := blas.NoTrans, blas.NoTrans
					if tA {
						ta = blas.Trans
					}
					if tB {
						tb = blas.Trans
					}
					impl.Sgemm(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], want, n)
					got := append([]float32(nil), c0...)
					sgemmAuto(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, n)
					for i := range want {
						if math.Abs(float64(got[i]-want[i])) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("%s: element %d = %v, gonum %v", name, i, got[i], want[i])
						}
					}
					if n < tileN {
						continue // computed transposed, or by gonum
					}
					// Splitting the column panels differently changes nothing.
					got = append(got[:0], c0...)
					sgemmTiled(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, n)
					split := append([]float32(nil), c0...)
					panels := (n + tileN - 1) / tileN
					for p := 0; p < panels; p++ {
						sgemmPanels(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], split, n, p, p+1)
					}
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(split[i]) {
							t.Fatalf("%s: element %d depends on the split: %v vs %v", name, i, got[i], split[i])
						}
					}
				}
			}
		}
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range [][3]int{{64, 256, 384}, {256, 384, 64}, {1024, 768, 768}} {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		Uniform(NewRNG(1), a, 1)
		Uniform(NewRNG(2), bb, 1)
		for _, name := range []string{"gonum", "auto"} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", name, m, n, k), func(b *testing.B) {
				f := impl.Sgemm
				if name == "auto" {
					f = gemm32
				}
				for i := 0; i < b.N; i++ {
					f(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bb, n, 0, c, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

func TestDotAxpy(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 31, 32, 33, 384, 517} {
		x, y := make([]float32, n), make([]float32, n)
		Uniform(NewRNG(uint64(n)), x, 1)
		Uniform(NewRNG(uint64(n+1)), y, 1)
		var want float64
		for i := range x {
			want += float64(x[i]) * float64(y[i])
		}
		if got := Dot(x, y); math.Abs(float64(got)-want) > 1e-5*float64(n) {
			t.Errorf("Dot n=%d: %v, want %v", n, got, want)
		}
		y2 := append([]float32(nil), y...)
		Axpy(0.5, x, y2)
		for i := range y2 {
			if d := y2[i] - (y[i] + 0.5*x[i]); d > 1e-6 || d < -1e-6 {
				t.Fatalf("Axpy n=%d element %d: %v, want %v", n, i, y2[i], y[i]+0.5*x[i])
			}
		}
	}
}

// BenchmarkSgemmLayerShapes times the products of one encoder-layer
// training step at MiniLM's shapes (1280 = 32 texts × 40 tokens; H 384,
// I 1536): forward x·Wᵀ, and the weight gradient dyᵀ·x. Compare with
// OpenBLAS by scripts/bench_tune.sh (same shapes, same run).
func BenchmarkSgemmLayerShapes(b *testing.B) {
	for _, s := range []struct {
		m, n, k int
		tA, tB  bool
	}{{1280, 384, 384, false, true}, {1280, 1536, 384, false, true}, {1280, 384, 1536, false, true},
		{384, 384, 1280, true, false}, {1536, 384, 1280, true, false}, {1280, 384, 384, false, false}} {
		m, n, k := s.m, s.n, s.k
		a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		Uniform(NewRNG(1), a, 1)
		Uniform(NewRNG(2), bb, 1)
		ta, tb := blas.NoTrans, blas.NoTrans
		lda, ldb := k, n
		if s.tA {
			ta, lda = blas.Trans, m
		}
		if s.tB {
			tb, ldb = blas.Trans, k
		}
		for _, name := range []string{"gonum", "auto"} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d-tA%v-tB%v", name, m, n, k, s.tA, s.tB), func(b *testing.B) {
				f := impl.Sgemm
				if name == "auto" {
					f = gemm32
				}
				for i := 0; i < b.N; i++ {
					f(ta, tb, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
