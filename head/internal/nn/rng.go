package nn

import "math/bits"

// RNG is a small deterministic generator (SplitMix64). It is used for
// initialisation, shuffling and dropout so that the same seed gives the
// same weights on every platform and Go version.
type RNG struct{ s uint64 }

// NewRNG returns a generator for seed.
func NewRNG(seed uint64) *RNG { return &RNG{s: seed ^ 0x9E3779B97F4A7C15} }

const golden = 0x9E3779B97F4A7C15

// Uint64 returns 64 random bits.
func (r *RNG) Uint64() uint64 {
	r.s += golden
	return mix64(r.s)
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// ahead returns the value the (i+1)-th next call of Uint64 would return,
// without advancing: SplitMix64 can jump, so a block of draws can be
// split across goroutines and still equal the sequential stream.
func (r *RNG) ahead(i int) uint64 { return mix64(r.s + uint64(i+1)*golden) }

// skip advances the generator by n draws.
func (r *RNG) skip(n int) { r.s += uint64(n) * golden }

// Float64 returns a uniform value in [0, 1).
func (r *RNG) Float64() float64 { return float64(r.Uint64()>>11) * (1.0 / (1 << 53)) }

// Intn returns a value in [0, n) (n > 0).
func (r *RNG) Intn(n int) int {
	hi, _ := bits.Mul64(r.Uint64(), uint64(n))
	return int(hi)
}

// Shuffle permutes idx in place (Fisher–Yates).
func (r *RNG) Shuffle(idx []int) {
	for i := len(idx) - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		idx[i], idx[j] = idx[j], idx[i]
	}
}

// Uniform fills w with values in [-bound, bound).
func Uniform[T Float](r *RNG, w []T, bound float64) {
	for i := range w {
		w[i] = T((2*r.Float64() - 1) * bound)
	}
}
