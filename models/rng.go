package models

import "math"

// normalSource draws normal variates that are bit-for-bit identical on
// every Go version and architecture, so a seed names one model forever.
// math/rand's NormFloat64 has changed between Go releases, and math.Log
// differs in the last bit between the assembly (amd64) and pure-Go
// versions, so neither is used. The uniform source is splitmix64; the
// normals come from Marsaglia's polar method with the logarithm below.
// Every product is wrapped in an explicit float64 conversion, which the
// Go spec says rounds and so forbids fused multiply-add (arm64, ppc64 and
// s390x would otherwise fuse and round differently from amd64).
type normalSource struct {
	state uint64
	spare float64
	has   bool
}

func newNormalSource(seed uint64) *normalSource { return &normalSource{state: seed} }

// next is splitmix64 (Steele, Lea, Flood 2014).
func (s *normalSource) next() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uniform returns a float64 in [-1, 1) with 53 random bits.
func (s *normalSource) uniform() float64 {
	return float64(float64(s.next()>>11)*0x1p-52) - 1
}

// Norm returns a standard normal variate.
func (s *normalSource) Norm() float64 {
	if s.has {
		s.has = false
		return s.spare
	}
	for {
		u, v := s.uniform(), s.uniform()
		q := float64(float64(u*u) + float64(v*v))
		if q >= 1 || q == 0 {
			continue
		}
		f := math.Sqrt(float64(float64(-2*detLog(q)) / q)) // Sqrt is exactly rounded everywhere
		s.spare, s.has = float64(v*f), true
		return float64(u * f)
	}
}

// detLog is a natural logarithm for x in (0, 1] computed with only
// exactly-rounded operations: x = m·2^e with m in [√½, √2), then
// log m = 2·atanh(s) with s = (m-1)/(m+1), summed as a series to 2^-56
// relative error.
func detLog(x float64) float64 {
	bits := math.Float64bits(x)
	e := int((bits>>52)&0x7ff) - 1023
	if e == -1023 { // subnormal: scale up first
		return detLog(float64(x*0x1p54)) - float64(54*ln2)
	}
	m := math.Float64frombits(bits&^(0x7ff<<52) | 1023<<52) // in [1, 2)
	if m > math.Sqrt2 {
		m = float64(m * 0.5)
		e++
	}
	s := float64(m-1) / float64(m+1)
	s2 := float64(s * s)
	// atanh(s)/s = Σ s^(2k)/(2k+1); |s| < 0.1716 so s^2 < 0.0295 and 13
	// terms reach 1e-20.
	sum := 0.0
	for k := 13; k >= 0; k-- {
		sum = float64(float64(sum*s2) + 1/float64(2*k+1))
	}
	return float64(float64(2*s)*sum) + float64(float64(e)*ln2)
}

const ln2 = 0.693147180559945309417232121458176568
