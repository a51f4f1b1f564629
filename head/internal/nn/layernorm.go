package nn

import "math"

// LayerNorm normalises each row to zero mean and unit variance (the
// biased variance, as torch.nn.LayerNorm) and applies a per-feature
// gain and bias: y = (x − μ)/√(σ² + ε)·γ + β.
type LayerNorm[T Float] struct {
	Dim          int
	Eps          float64
	Weight, Bias *Param[T]
	xhat, y, dx  *Mat[T]
	rstd         []T
}

// NewLayerNorm returns a LayerNorm with γ = 1, β = 0.
func NewLayerNorm[T Float](name string, dim int, eps float64) *LayerNorm[T] {
	l := &LayerNorm[T]{Dim: dim, Eps: eps,
		Weight: newParam[T](name+".weight", false, dim),
		Bias:   newParam[T](name+".bias", false, dim)}
	for i := range l.Weight.W {
		l.Weight.W[i] = 1
	}
	return l
}

// Params returns γ and β.
func (l *LayerNorm[T]) Params() []*Param[T] { return []*Param[T]{l.Weight, l.Bias} }

// normRows normalises rows [lo, hi) of x into y, keeping x̂ and 1/σ when
// xhat is non-nil. Mean and variance are summed in float64.
func (l *LayerNorm[T]) normRows(x, y, xhat *Mat[T], rstd []T, lo, hi int) {
	g, b := l.Weight.W, l.Bias.W
	n := float64(l.Dim)
	for i := lo; i < hi; i++ {
		xr, yr := x.Row(i), y.Row(i)
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		mu := s / n
		var ss float64
		for _, v := range xr {
			d := float64(v) - mu
			ss += d * d
		}
		r := 1 / math.Sqrt(ss/n+l.Eps)
		m, rt := T(mu), T(r)
		var hr []T
		if xhat != nil {
			hr = xhat.Row(i)
			rstd[i] = rt
		}
		for j, v := range xr {
			h := (v - m) * rt
			if hr != nil {
				hr[j] = h
			}
			yr[j] = h*g[j] + b[j]
		}
	}
}

func (l *LayerNorm[T]) parallelRows(rows int, f func(lo, hi int)) {
	parallelFor(rows*l.Dim, func(lo, hi int) {
		// split on row boundaries: ranges are element ranges of rows·Dim
		r0 := (lo + l.Dim - 1) / l.Dim
		r1 := (hi + l.Dim - 1) / l.Dim
		if hi == rows*l.Dim {
			r1 = rows
		}
		if r0 < r1 {
			f(r0, r1)
		}
	})
}

// Forward normalises x; it caches x̂ and 1/σ for Backward.
func (l *LayerNorm[T]) Forward(x *Mat[T], train bool) *Mat[T] {
	l.y = reuse(l.y, x.Rows, x.Cols)
	l.xhat = reuse(l.xhat, x.Rows, x.Cols)
	if cap(l.rstd) < x.Rows {
		l.rstd = make([]T, x.Rows)
	}
	l.rstd = l.rstd[:x.Rows]
	l.parallelRows(x.Rows, func(lo, hi int) { l.normRows(x, l.y, l.xhat, l.rstd, lo, hi) })
	return l.y
}

// Infer normalises x into a new matrix.
func (l *LayerNorm[T]) Infer(x *Mat[T]) *Mat[T] {
	y := NewMat[T](x.Rows, x.Cols)
	l.parallelRows(x.Rows, func(lo, hi int) { l.normRows(x, y, nil, nil, lo, hi) })
	return y
}

// Backward adds Σ dy⊙x̂ to γ's gradient and Σ dy to β's (rows in order),
// and returns dx = (1/σ)·(g − mean(g) − x̂·mean(g⊙x̂)) with g = dy⊙γ.
func (l *LayerNorm[T]) Backward(dy *Mat[T], needDX bool) *Mat[T] {
	gg, gb := l.Weight.G, l.Bias.G
	if !l.Weight.Frozen {
		for i := 0; i < dy.Rows; i++ {
			hr := l.xhat.Row(i)
			for j, d := range dy.Row(i) {
				gg[j] += d * hr[j]
				gb[j] += d
			}
		}
	}
	if !needDX {
		return nil
	}
	l.dx = reuse(l.dx, dy.Rows, dy.Cols)
	g := l.Weight.W
	n := T(l.Dim)
	l.parallelRows(dy.Rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dr, hr, out := dy.Row(i), l.xhat.Row(i), l.dx.Row(i)
			var s1, s2 T
			for j, d := range dr {
				v := d * g[j]
				s1 += v
				s2 += v * hr[j]
			}
			s1 /= n
			s2 /= n
			r := l.rstd[i]
			for j, d := range dr {
				out[j] = r * (d*g[j] - s1 - hr[j]*s2)
			}
		}
	})
	return l.dx
}
