package nn

import (
	"math"
	"runtime"
	"sync"
)

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
// xhat is non-nil. Mean and variance are summed in float64, in four
// interleaved partial sums (a fixed order: the sums of a row do not
// depend on how rows are split across cores).
func (l *LayerNorm[T]) normRows(x, y, xhat *Mat[T], rstd []T, lo, hi int) {
	g, b := l.Weight.W, l.Bias.W
	n := float64(l.Dim)
	for i := lo; i < hi; i++ {
		xr, yr := x.Row(i), y.Row(i)
		mu := sum4(xr) / n
		r := 1 / math.Sqrt(sqdev4(xr, mu)/n+l.Eps)
		m, rt := T(mu), T(r)
		var hr []T
		if xhat != nil {
			hr = xhat.Row(i)[:len(xr)]
			rstd[i] = rt
		}
		g, b, yr := g[:len(xr)], b[:len(xr)], yr[:len(xr)]
		if hr != nil {
			for j, v := range xr {
				h := (v - m) * rt
				hr[j] = h
				yr[j] = h*g[j] + b[j]
			}
			continue
		}
		for j, v := range xr {
			yr[j] = (v-m)*rt*g[j] + b[j]
		}
	}
}

// sum4 returns Σ x in float64, four partial sums combined pairwise.
func sum4[T Float](x []T) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		s0 += float64(x[j])
		s1 += float64(x[j+1])
		s2 += float64(x[j+2])
		s3 += float64(x[j+3])
	}
	for ; j < len(x); j++ {
		s0 += float64(x[j])
	}
	return (s0 + s1) + (s2 + s3)
}

// sqdev4 returns Σ (x − mu)² in float64, like sum4.
func sqdev4[T Float](x []T, mu float64) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		d0, d1, d2, d3 := float64(x[j])-mu, float64(x[j+1])-mu, float64(x[j+2])-mu, float64(x[j+3])-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; j < len(x); j++ {
		d := float64(x[j]) - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
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

// Backward adds Σ dy⊙x̂ to γ's gradient and Σ dy to β's (rows in order;
// cores split the columns), and returns dx = (1/σ)·(g − mean(g) −
// x̂·mean(g⊙x̂)) with g = dy⊙γ.
func (l *LayerNorm[T]) Backward(dy *Mat[T], needDX bool) *Mat[T] {
	gg, gb := l.Weight.G, l.Bias.G
	if !l.Weight.Frozen {
		colsParallel(dy.Rows, dy.Cols, func(j0, j1 int) {
			for i := 0; i < dy.Rows; i++ {
				hr, dr := l.xhat.Row(i)[j0:j1], dy.Row(i)[j0:j1]
				g, b := gg[j0:j1], gb[j0:j1]
				for j, d := range dr {
					g[j] += d * hr[j]
					b[j] += d
				}
			}
		})
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
			hr, out, g := hr[:len(dr)], out[:len(dr)], g[:len(dr)]
			var a0, a1, b0, b1 T
			j := 0
			for ; j+2 <= len(dr); j += 2 {
				v0, v1 := dr[j]*g[j], dr[j+1]*g[j+1]
				a0 += v0
				a1 += v1
				b0 += v0 * hr[j]
				b1 += v1 * hr[j+1]
			}
			for ; j < len(dr); j++ {
				v := dr[j] * g[j]
				a0 += v
				b0 += v * hr[j]
			}
			s1, s2 := (a0+a1)/n, (b0+b1)/n
			r := l.rstd[i]
			for j, d := range dr {
				out[j] = r * (d*g[j] - s1 - hr[j]*s2)
			}
		}
	})
	return l.dx
}

// colsParallel calls f on disjoint column ranges [j0, j1) of a rows×cols
// matrix, concurrently when it is large: a reduction over rows split by
// columns keeps each column's summation order.
func colsParallel(rows, cols int, f func(j0, j1 int)) {
	workers := min(runtime.GOMAXPROCS(0), rows*cols/parallelMin, cols/16)
	if workers <= 1 {
		f(0, cols)
		return
	}
	var wg sync.WaitGroup
	per := (cols + workers - 1) / workers
	per = (per + 15) &^ 15
	for j0 := 0; j0 < cols; j0 += per {
		wg.Add(1)
		go func(j0, j1 int) {
			defer wg.Done()
			f(j0, j1)
		}(j0, min(j0+per, cols))
	}
	wg.Wait()
}
