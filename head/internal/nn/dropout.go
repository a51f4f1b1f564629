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
	// 24 random bits per decision, two decisions per draw.
	keep := T(1 / (1 - d.P))
	thr := uint64(d.P * (1 << 24))
	for i := 0; i < n; i += 2 {
		u := d.RNG.Uint64()
		d.mask[i] = 0
		if u&(1<<24-1) >= thr {
			d.mask[i] = keep
		}
		if i+1 < n {
			d.mask[i+1] = 0
			if (u>>32)&(1<<24-1) >= thr {
				d.mask[i+1] = keep
			}
		}
	}
	d.y = reuse(d.y, x.Rows, x.Cols)
	for i, v := range x.Data {
		d.y.Data[i] = v * d.mask[i]
	}
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
	for i, v := range dy.Data {
		d.dx.Data[i] = v * d.mask[i]
	}
	return d.dx
}
