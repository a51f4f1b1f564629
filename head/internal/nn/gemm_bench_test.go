package nn

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// gemmShape is one product of a training step: C [m, n] = op(A)·op(B)
// with k the inner size; tA, tB as BLAS.
type gemmShape struct {
	what    string
	m, n, k int
	tA, tB  bool
}

// gemmShapes are the products of one encoder-layer step at MiniLM's
// shapes (1280 tokens = 32 texts × 40, H 384, I 1536, head dim 32) and
// bge-small-zh's (5600 tokens = 32 × 175, H 512, I 2048, head dim 64),
// and a large square product for the machine's peak.
var gemmShapes = []gemmShape{
	{"minilm x·Wᵀ qkvo", 1280, 384, 384, false, true},
	{"minilm x·Wᵀ inter", 1280, 1536, 384, false, true},
	{"minilm x·Wᵀ out", 1280, 384, 1536, false, true},
	{"minilm dy·W qkvo", 1280, 384, 384, false, false},
	{"minilm dy·W inter", 1280, 384, 1536, false, false},
	{"minilm dyᵀ·x qkvo", 384, 384, 1280, true, false},
	{"minilm dyᵀ·x inter", 1536, 384, 1280, true, false},
	{"minilm attn Q·Kᵀ", 40, 40, 32, false, true},
	{"minilm attn P·V", 40, 32, 40, false, false},
	{"bgezh x·Wᵀ qkvo", 5600, 512, 512, false, true},
	{"bgezh x·Wᵀ inter", 5600, 2048, 512, false, true},
	{"bgezh x·Wᵀ out", 5600, 512, 2048, false, true},
	{"bgezh dyᵀ·x inter", 2048, 512, 5600, true, false},
	{"bgezh attn Q·Kᵀ", 175, 175, 64, false, true},
	{"square", 2048, 2048, 2048, false, false},
}

// gemmCandidates are the float32 products that could carry training, by
// name (more register in other files: OpenBLAS under the openblas tag).
var gemmCandidates = []struct {
	name string
	f    func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}{
	{"gonum", func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		impl.Sgemm(blasT(tA), blasT(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}},
}

func blasT(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// BenchmarkGemmCandidates times every candidate on every shape, the
// candidates of a shape one after the other (run with -count to
// alternate them again), reporting GFLOP/s of wall time and per second
// of CPU time used by the process (on a shared machine the second is
// what a product costs; busy-waiting threads count in it):
//
//	go test -run XXX -bench GemmCandidates -count 3 ./head/internal/nn/
//	go test -tags openblas -run XXX -bench GemmCandidates -count 3 ./head/internal/nn/
func BenchmarkGemmCandidates(b *testing.B) {
	for _, s := range gemmShapes {
		m, n, k := s.m, s.n, s.k
		lda, ldb := k, n
		if s.tA {
			lda = m
		}
		if s.tB {
			ldb = k
		}
		a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		Uniform(NewRNG(1), a, 1)
		Uniform(NewRNG(2), bb, 1)
		for _, cand := range gemmCandidates {
			if cand.name == "gonum" && m*n*k > 1<<30 {
				continue // minutes
			}
			b.Run(fmt.Sprintf("%s %dx%dx%d/%s", s.what, m, n, k, cand.name), func(b *testing.B) {
				cand.f(s.tA, s.tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n) // warm
				b.ResetTimer()
				cpu0 := processCPU()
				for i := 0; i < b.N; i++ {
					cand.f(s.tA, s.tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
				}
				cpu := processCPU() - cpu0
				flops := 2 * float64(m*n*k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOPS")
				if cpu > 0 {
					b.ReportMetric(flops/cpu/1e9, "GFLOPS/cpu-s")
				}
			})
		}
	}
}

// BenchmarkAttention times multi-head attention forward and backward
// (dropout on) at MiniLM's shapes (32 texts of 25–55 tokens, H 384, 12
// heads) and bge-small-zh's (100–250 tokens, H 512, 8 heads), with the
// FLOPs of its products per second of wall and of CPU time.
func BenchmarkAttention(b *testing.B) {
	for _, s := range []struct {
		name           string
		H, heads       int
		minLen, maxLen int
	}{{"minilm", 384, 12, 25, 55}, {"bgezh", 512, 8, 100, 250}} {
		b.Run(s.name, func(b *testing.B) {
			rng := NewRNG(5)
			off := []int{0}
			var flops float64
			for i := 0; i < 32; i++ {
				t := s.minLen + rng.Intn(s.maxLen-s.minLen+1)
				off = append(off, off[len(off)-1]+t)
				flops += 3 * 4 * float64(t*t*s.H) // forward 2 products, backward 4
			}
			n := off[len(off)-1]
			q, k, v, dc := NewMat[float32](n, s.H), NewMat[float32](n, s.H), NewMat[float32](n, s.H), NewMat[float32](n, s.H)
			for _, m := range []*Mat[float32]{q, k, v, dc} {
				Uniform(rng, m.Data, 1)
			}
			a := &Attention[float32]{Heads: s.heads, Dropout: 0.1, RNG: NewRNG(1)}
			a.Forward(q, k, v, off, true)
			a.Backward(dc)
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				a.Forward(q, k, v, off, true)
				a.Backward(dc)
			}
			cpu := processCPU() - cpu0
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			if cpu > 0 {
				b.ReportMetric(flops*float64(b.N)/cpu/1e9, "GFLOPS/cpu-s")
				b.ReportMetric(cpu/float64(b.N)*1e3, "cpu-ms/op")
			}
		})
	}
}
