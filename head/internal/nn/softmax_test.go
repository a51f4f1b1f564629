package nn

import (
	"math"
	"testing"
)

// TestDropoutMaskVectorMatchesScalar: the AVX-512 mask generator gives
// the Go loop's mask bit for bit, at any length and start.
func TestDropoutMaskVectorMatchesScalar(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 15, 16, 17, 33, 1000, 40001} {
		for _, p := range []float64{0.1, 0.5} {
			got := make([]float32, n)
			r1 := NewRNG(uint64(n))
			r1.Uint64()
			dropoutMask(r1, got, p)
			r2 := NewRNG(uint64(n))
			r2.Uint64()
			keep := float32(1 / (1 - p))
			thr := uint64(p * (1 << 24))
			for k := 0; 2*k < n; k++ {
				u := r2.ahead(k)
				for h, bits := range []uint64{u & (1<<24 - 1), (u >> 32) & (1<<24 - 1)} {
					i := 2*k + h
					if i >= n {
						break
					}
					want := float32(0)
					if bits >= thr {
						want = keep
					}
					if got[i] != want {
						t.Fatalf("n=%d p=%v element %d: %v, want %v", n, p, i, got[i], want)
					}
				}
			}
			if r1.Uint64() != r2.ahead((n+1)/2) {
				t.Fatalf("n=%d: the generator advanced wrongly", n)
			}
		}
	}
}

// TestSoftmaxRowsVector checks the row softmax (and its dropped copy)
// and its backward against float64 references, at row lengths around
// the vector width.
func TestSoftmaxRowsVector(t *testing.T) {
	t.Parallel()
	rng := NewRNG(9)
	for _, n := range []int{1, 7, 16, 17, 40, 175} {
		x := make([]float32, n)
		Uniform(rng, x, 8)
		keep := make([]float32, n)
		dropoutMask(rng, keep, 0.3)
		p := append([]float32(nil), x...)
		pd := make([]float32, n)
		softmaxRow32(p, keep, pd)
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for _, v := range x {
			sum += math.Exp(float64(v) - m)
		}
		for i, v := range x {
			want := math.Exp(float64(v)-m) / sum
			if math.Abs(float64(p[i])-want) > 1e-6 || pd[i] != p[i]*keep[i] {
				t.Fatalf("n=%d: p[%d] = %v (dropped %v), want %v", n, i, p[i], pd[i], want)
			}
		}
		d := make([]float32, n)
		Uniform(rng, d, 1)
		got := append([]float32(nil), d...)
		softmaxBackRow32(got, p, keep)
		var dot float64
		for i := range d {
			dot += float64(d[i]) * float64(keep[i]) * float64(p[i])
		}
		for i := range d {
			want := float64(p[i]) * (float64(d[i])*float64(keep[i]) - dot)
			if math.Abs(float64(got[i])-want) > 1e-6 {
				t.Fatalf("n=%d: dS[%d] = %v, want %v", n, i, got[i], want)
			}
		}
	}
}
