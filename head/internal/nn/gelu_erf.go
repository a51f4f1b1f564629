package nn

import "math"

// Exact (erf) GELU, BERT's hidden_act "gelu":
//
//	y = x·Φ(x) = 0.5·x·(1 + erf(x/√2)),   dy/dx = Φ(x) + x·φ(x).
//
// float32 uses erf32 and exp32 below (within a few ulps; math.Erf and
// math.Exp in float64 cost five times more and would add a third to a
// layer's time); float64 uses the math package.

const (
	invSqrt2   = 0.7071067811865476
	invSqrt2Pi = 0.3989422804014327
)

// geluErfForward sets y = GELU(x) and, when cdf is non-nil, cdf = Φ(x).
func geluErfForward[T Float](x, y, cdf []T) {
	switch xs := any(x).(type) {
	case []float32:
		ys := any(y).([]float32)
		cs, _ := any(cdf).([]float32)
		if cs != nil {
			done := geluErfVec(xs, ys, cs)
			xs, ys, cs = xs[done:], ys[done:], cs[done:]
		} else {
			var tmp [1024]float32 // Φ(x), not kept
			for len(xs) >= 8 {
				n := min(len(xs), len(tmp))
				done := geluErfVec(xs[:n], ys, tmp[:n])
				if done == 0 {
					break
				}
				xs, ys = xs[done:], ys[done:]
			}
		}
		for i, v := range xs {
			c := 0.5 * (1 + erf32(v*invSqrt2))
			ys[i] = v * c
			if cs != nil {
				cs[i] = c
			}
		}
	case []float64:
		ys := any(y).([]float64)
		cs, _ := any(cdf).([]float64)
		for i, v := range xs {
			c := 0.5 * (1 + math.Erf(v*invSqrt2))
			ys[i] = v * c
			if cs != nil {
				cs[i] = c
			}
		}
	}
}

// geluErfBackward sets dx = dy·(Φ(x) + x·φ(x)).
func geluErfBackward[T Float](x, cdf, dy, dx []T) {
	switch xs := any(x).(type) {
	case []float32:
		cs, ds, out := any(cdf).([]float32), any(dy).([]float32), any(dx).([]float32)
		done := geluErfBackVec(xs, cs, ds, out)
		xs, cs, ds, out = xs[done:], cs[done:], ds[done:], out[done:]
		for i, v := range xs {
			out[i] = ds[i] * (cs[i] + v*invSqrt2Pi*exp32(-0.5*v*v))
		}
	case []float64:
		cs, ds, out := any(cdf).([]float64), any(dy).([]float64), any(dx).([]float64)
		for i, v := range xs {
			out[i] = ds[i] * (cs[i] + v*invSqrt2Pi*math.Exp(-0.5*v*v))
		}
	}
}

// erf32 is erf in float32 as Eigen computes it: an odd [13/8] rational
// approximation on x clamped to ±4 (where erf rounds to ±1).
func erf32(x float32) float32 {
	if x > 4 {
		x = 4
	} else if x < -4 {
		x = -4
	}
	x2 := x * x
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = x2*p + -2.10102402082508e-06
	p = x2*p + -5.69250639462346e-05
	p = x2*p + -7.34990630326855e-04
	p = x2*p + -2.95459980854025e-03
	p = x2*p + -1.60960333262415e-02
	p = x * p
	q := x2*-1.45660718464996e-05 + -2.13374055278905e-04
	q = x2*q + -1.68282697438203e-03
	q = x2*q + -7.37332916720468e-03
	q = x2*q + -1.42647390514189e-02
	return p / q
}

// exp32 is e^x in float32: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6
// polynomial for e^r (Cephes expf), and 2^n put into the exponent bits.
// Below −87.3 it returns 0, above 88.7 +Inf.
func exp32(x float32) float32 {
	if x < -87.33654 {
		return 0
	}
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	fx := x*log2e + 0.5
	n := float32(int32(fx))
	if n > fx {
		n--
	}
	r := x - n*c1 - n*c2
	r2 := r * r
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r2 + r + 1
	e := int32(n)
	if e < -126 { // subnormal result: scale in two steps
		return y * math.Float32frombits(uint32(e+126+127)<<23) * math.Float32frombits(1<<23)
	}
	return y * math.Float32frombits(uint32(e+127)<<23)
}
