package nn

import (
	"fmt"
	"math"
)

// ActKind names an activation function.
type ActKind string

// The activations. GELU is the tanh approximation used by the original
// BERT and GPT-2 code: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
const (
	GELU ActKind = "gelu"
	ReLU ActKind = "relu"
	// GELUExact is x·Φ(x) with the exact erf (BERT's "gelu"), for
	// encoder layers; heads keep the tanh form under the name "gelu".
	GELUExact ActKind = "gelu_exact"
)

// ParseAct checks an activation name.
func ParseAct(s string) (ActKind, error) {
	switch ActKind(s) {
	case GELU, ReLU:
		return ActKind(s), nil
	}
	return "", fmt.Errorf("unknown activation %q (want gelu or relu)", s)
}

const (
	geluC = 0.7978845608028654 // √(2/π)
	geluA = 0.044715
)

// Activation applies an element-wise non-linearity.
type Activation[T Float] struct {
	Kind  ActKind
	x, t  *Mat[T] // input and, for GELU, tanh of the inner term
	y, dx *Mat[T]
}

// NewActivation returns an activation layer.
func NewActivation[T Float](kind ActKind) *Activation[T] { return &Activation[T]{Kind: kind} }

// Params returns nil: activations have no parameters.
func (a *Activation[T]) Params() []*Param[T] { return nil }

func (a *Activation[T]) apply(x, y, t *Mat[T]) {
	switch a.Kind {
	case ReLU:
		parallelFor(len(x.Data), func(lo, hi int) {
			xs, ys := x.Data[lo:hi], y.Data[lo:hi]
			for i, v := range xs {
				ys[i] = max(v, 0)
			}
		})
	case GELUExact:
		parallelFor(len(x.Data), func(lo, hi int) {
			var ts []T
			if t != nil {
				ts = t.Data[lo:hi]
			}
			geluErfForward(x.Data[lo:hi], y.Data[lo:hi], ts)
		})
	default:
		parallelFor(len(x.Data), func(lo, hi int) {
			var ts []T
			if t != nil {
				ts = t.Data[lo:hi]
			}
			geluForward(x.Data[lo:hi], y.Data[lo:hi], ts)
		})
	}
}

// geluForward sets y = GELU(x) and, when t is non-nil, t = the tanh term.
// The element type is switched once per slice: converting each element to
// an interface would allocate.
func geluForward[T Float](x, y, t []T) {
	switch xs := any(x).(type) {
	case []float32:
		ys := any(y).([]float32)
		ts, _ := any(t).([]float32)
		if ts == nil {
			ts = make([]float32, len(xs))
		}
		done := geluVec(xs, ys, ts)
		gelu32(xs[done:], ys[done:], ts[done:])
	case []float64:
		ys := any(y).([]float64)
		ts, _ := any(t).([]float64)
		for i, v := range xs {
			th := math.Tanh(geluC * (v + geluA*v*v*v))
			ys[i] = 0.5 * v * (1 + th)
			if ts != nil {
				ts[i] = th
			}
		}
	}
}

// Forward applies the activation; x must stay unchanged until Backward.
func (a *Activation[T]) Forward(x *Mat[T], train bool) *Mat[T] {
	a.x = x
	a.y = reuse(a.y, x.Rows, x.Cols)
	var t *Mat[T]
	if a.Kind != ReLU {
		a.t = reuse(a.t, x.Rows, x.Cols)
		t = a.t
	}
	a.apply(x, a.y, t)
	return a.y
}

// Infer applies the activation into a new matrix.
func (a *Activation[T]) Infer(x *Mat[T]) *Mat[T] {
	y := NewMat[T](x.Rows, x.Cols)
	a.apply(x, y, nil)
	return y
}

// Backward multiplies dy by the derivative at the cached input.
func (a *Activation[T]) Backward(dy *Mat[T], needDX bool) *Mat[T] {
	if !needDX {
		return nil
	}
	a.dx = reuse(a.dx, dy.Rows, dy.Cols)
	switch a.Kind {
	case ReLU:
		parallelFor(len(dy.Data), func(lo, hi int) {
			xs, ds, out := a.x.Data[lo:hi], dy.Data[lo:hi], a.dx.Data[lo:hi]
			for i, v := range xs {
				if v > 0 {
					out[i] = ds[i]
				} else {
					out[i] = 0
				}
			}
		})
	case GELUExact:
		parallelFor(len(dy.Data), func(lo, hi int) {
			geluErfBackward(a.x.Data[lo:hi], a.t.Data[lo:hi], dy.Data[lo:hi], a.dx.Data[lo:hi])
		})
	default:
		parallelFor(len(dy.Data), func(lo, hi int) {
			xs, ts, ds, out := a.x.Data[lo:hi], a.t.Data[lo:hi], dy.Data[lo:hi], a.dx.Data[lo:hi]
			for i, v := range xs {
				th := ts[i]
				d := 0.5*(1+th) + 0.5*v*(1-th*th)*T(geluC)*(1+3*T(geluA)*v*v)
				out[i] = ds[i] * d
			}
		})
	}
	return a.dx
}

// gelu32 is the scalar float32 GELU, the reference for the vector code:
// the same operations in the same order.
func gelu32(x, y, t []float32) {
	y, t = y[:len(x)], t[:len(x)]
	for i, v := range x {
		th := tanh32(geluC * (v + geluA*v*v*v))
		t[i] = th
		y[i] = 0.5 * v * (1 + th)
	}
}

// tanh32 is tanh in float32 as Eigen computes it: a [13/6] rational
// approximation on x clamped to ±7.905 (where tanh rounds to ±1), within
// a few float32 ulps of the truth (Eigen returns x itself below 4e-4; the
// rational form is within 2e-7 relative there, and keeping it lets the
// vector code match this function exactly).
func tanh32(x float32) float32 {
	const clamp = 7.90531110763549805
	if x > clamp {
		x = clamp
	} else if x < -clamp {
		x = -clamp
	}
	x2 := x * x
	p := x2*-2.76076847742355e-16 + 2.00018790482477e-13
	p = x2*p + -8.60467152213735e-11
	p = x2*p + 5.12229709037114e-08
	p = x2*p + 1.48572235717979e-05
	p = x2*p + 6.37261928875436e-04
	p = x2*p + 4.89352455891786e-03
	p = x * p
	q := x2*1.19825839466702e-06 + 1.18534705686654e-04
	q = x2*q + 2.26843463243900e-03
	q = x2*q + 4.89352518554385e-03
	return p / q
}
