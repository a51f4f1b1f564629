package nn

// Dropout zeroes each input with probability P during training and scales
// the survivors by 1/(1-P) ("inverted" dropout), so evaluation is the
// identity.
type Dropout[T Float] struct {
	P    float64
	RNG  *RNG
	mask []T
	on   bool
	y    *Mat[T]
	dx   *Mat[T]
}

// NewDropout returns a dropout layer drawing its masks from rng.
func NewDropout[T Float](p float64, rng *RNG) *Dropout[T] { return &Dropout[T]{P: p, RNG: rng} }

// Params returns nil.
func (d *Dropout[T]) Params() []*Param[T] { return nil }

// Forward draws a fresh mask when training with P > 0; otherwise it
// returns x itself.
func (d *Dropout[T]) Forward(x *Mat[T], train bool) *Mat[T] {
	d.on = train && d.P > 0
	if !d.on {
		return x
	}
	n := len(x.Data)
	if cap(d.mask) < n {
		d.mask = make([]T, n)
	}
	d.mask = d.mask[:n]
	dropoutMask(d.RNG, d.mask, d.P)
	mask := d.mask
	d.y = reuse(d.y, x.Rows, x.Cols)
	parallelFor(n, func(lo, hi int) {
		ys, xs, ms := d.y.Data[lo:hi], x.Data[lo:hi], mask[lo:hi]
		for i, v := range xs {
			ys[i] = v * ms[i]
		}
	})
	return d.y
}

// Infer returns x: dropout is off in evaluation.
func (d *Dropout[T]) Infer(x *Mat[T]) *Mat[T] { return x }

// Backward applies the last mask to dy.
func (d *Dropout[T]) Backward(dy *Mat[T], needDX bool) *Mat[T] {
	if !needDX {
		return nil
	}
	if !d.on {
		return dy
	}
	d.dx = reuse(d.dx, dy.Rows, dy.Cols)
	parallelFor(len(dy.Data), func(lo, hi int) {
		out, ds, ms := d.dx.Data[lo:hi], dy.Data[lo:hi], d.mask[lo:hi]
		for i, v := range ds {
			out[i] = v * ms[i]
		}
	})
	return d.dx
}

// dropoutMask fills mask with 0 (probability p) or 1/(1−p), advancing
// rng by ⌈len/2⌉ draws: 24 random bits per decision, two decisions per
// draw, and draw k of this call serves elements 2k and 2k+1 whichever
// goroutine computes it, so the mask does not depend on the core count.
func dropoutMask[T Float](rng *RNG, mask []T, p float64) {
	n := len(mask)
	keep := T(1 / (1 - p))
	thr := uint64(p * (1 << 24))
	pairs := (n + 1) / 2
	m32, vec := any(mask).([]float32)
	vec = vec && haveAVX512DQ
	parallelFor(pairs, func(lo, hi int) {
		if vec { // sixteen decisions at a time, the same integer steps
			v := (min(hi, n/2) - lo) &^ 7
			if v > 0 {
				dropoutPairs8(v, rng.s+uint64(lo)*golden, &m32[2*lo], uint32(thr), float32(keep))
				lo += v
			}
		}
		for k := lo; k < hi; k++ {
			u := rng.ahead(k)
			i := 2 * k
			mask[i] = 0
			if u&(1<<24-1) >= thr {
				mask[i] = keep
			}
			if i+1 < n {
				mask[i+1] = 0
				if (u>>32)&(1<<24-1) >= thr {
					mask[i+1] = keep
				}
			}
		}
	})
	rng.skip(pairs)
}
