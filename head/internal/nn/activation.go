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
	default:
		parallelFor(len(x.Data), func(lo, hi int) {
			xs, ys := x.Data[lo:hi], y.Data[lo:hi]
			var ts []T
			if t != nil {
				ts = t.Data[lo:hi]
			}
			for i, v := range xs {
				th := tanh(T(geluC) * (v + T(geluA)*v*v*v))
				ys[i] = 0.5 * v * (1 + th)
				if ts != nil {
					ts[i] = th
				}
			}
		})
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

// tanh is math.Tanh for float64 and a fast float32 version for float32.
func tanh[T Float](x T) T {
	if v, ok := any(x).(float32); ok {
		return T(tanh32(v))
	}
	return T(math.Tanh(float64(x)))
}

// tanh32 is tanh in float32, accurate to about 2e-7 absolute: an odd
// polynomial near zero, 1 - 2/(e^{2x}+1) elsewhere.
func tanh32(x float32) float32 {
	ax := x
	if ax < 0 {
		ax = -ax
	}
	if ax < 0.125 {
		x2 := x * x
		return x * (1 + x2*(-1.0/3+x2*(2.0/15+x2*(-17.0/315+x2*(62.0/2835)))))
	}
	if ax > 9.5 {
		if x < 0 {
			return -1
		}
		return 1
	}
	r := 1 - 2/(exp32(2*ax)+1)
	if x < 0 {
		return -r
	}
	return r
}

// exp32 is e^x in float32 for |x| <= 20: x = n·ln2 + r with |r| <= ln2/2,
// a degree-6 polynomial for e^r, and 2^n put into the exponent bits.
func exp32(x float32) float32 {
	const (
		log2e = 1.4426950408889634
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}
