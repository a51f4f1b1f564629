package nn

import "math"

// Pool turns packed token rows into one row per sequence: the first
// token ([CLS]) or the mean over the sequence's tokens, optionally
// L2-normalised as torch.nn.functional.normalize (‖p‖ floored at 1e-12).
type Pool[T Float] struct {
	Mean, Normalize bool
	off             []int
	n               int
	p, y, dx        *Mat[T]
	norms           []float64
}

const normEps = 1e-12

func (pl *Pool[T]) pool(x *Mat[T], off []int, p *Mat[T]) {
	for s := 0; s+1 < len(off); s++ {
		row := p.Row(s)
		t := off[s+1] - off[s]
		if !pl.Mean || t == 0 {
			if t == 0 {
				clear(row)
			} else {
				copy(row, x.Row(off[s]))
			}
			continue
		}
		clear(row)
		for r := off[s]; r < off[s+1]; r++ {
			for j, v := range x.Row(r) {
				row[j] += v
			}
		}
		inv := 1 / T(t)
		for j := range row {
			row[j] *= inv
		}
	}
}

func normalizeRows[T Float](p, y *Mat[T], norms []float64) {
	for s := 0; s < p.Rows; s++ {
		var ss float64
		for _, v := range p.Row(s) {
			ss += float64(v) * float64(v)
		}
		n := max(math.Sqrt(ss), normEps)
		if norms != nil {
			norms[s] = n
		}
		inv := T(1 / n)
		yr := y.Row(s)
		for j, v := range p.Row(s) {
			yr[j] = v * inv
		}
	}
}

// Forward pools x [n, H] by the sequence offsets off.
func (pl *Pool[T]) Forward(x *Mat[T], off []int) *Mat[T] {
	pl.off, pl.n = off, x.Rows
	pl.p = reuse(pl.p, len(off)-1, x.Cols)
	pl.pool(x, off, pl.p)
	if !pl.Normalize {
		return pl.p
	}
	pl.y = reuse(pl.y, pl.p.Rows, pl.p.Cols)
	if cap(pl.norms) < pl.p.Rows {
		pl.norms = make([]float64, pl.p.Rows)
	}
	pl.norms = pl.norms[:pl.p.Rows]
	normalizeRows(pl.p, pl.y, pl.norms)
	return pl.y
}

// Infer pools into new matrices.
func (pl *Pool[T]) Infer(x *Mat[T], off []int) *Mat[T] {
	p := NewMat[T](len(off)-1, x.Cols)
	pl.pool(x, off, p)
	if pl.Normalize {
		normalizeRows(p, p, nil)
	}
	return p
}

// Backward spreads dy [sequences, H] back over the token rows.
func (pl *Pool[T]) Backward(dy *Mat[T]) *Mat[T] {
	dp := dy
	if pl.Normalize {
		dp = NewMat[T](dy.Rows, dy.Cols)
		for s := 0; s < dy.Rows; s++ {
			n := pl.norms[s]
			yr, dr, out := pl.y.Row(s), dy.Row(s), dp.Row(s)
			if n <= normEps { // p/eps is linear in p
				for j, d := range dr {
					out[j] = d / T(normEps)
				}
				continue
			}
			var dot T
			for j, d := range dr {
				dot += d * yr[j]
			}
			inv := T(1 / n)
			for j, d := range dr {
				out[j] = (d - yr[j]*dot) * inv
			}
		}
	}
	pl.dx = reuse(pl.dx, pl.n, dy.Cols)
	pl.dx.Zero()
	for s := 0; s+1 < len(pl.off); s++ {
		t := pl.off[s+1] - pl.off[s]
		if t == 0 {
			continue
		}
		if !pl.Mean {
			copy(pl.dx.Row(pl.off[s]), dp.Row(s))
			continue
		}
		inv := 1 / T(t)
		for r := pl.off[s]; r < pl.off[s+1]; r++ {
			row := pl.dx.Row(r)
			for j, d := range dp.Row(s) {
				row[j] = d * inv
			}
		}
	}
	return pl.dx
}

// TailNet is the top layers of an encoder, an optional final LayerNorm
// and pooling: packed token rows in, one embedding per sequence out.
// Layers below Lowest are run but not trained (gradual unfreezing);
// Backward stops at Lowest, which needs no input gradient.
type TailNet[T Float] struct {
	Layers []*EncoderLayer[T]
	Final  *LayerNorm[T]
	Pool   *Pool[T]
	Lowest int
	out    *Mat[T]
}

// Params returns every layer's tensors, bottom first, then the final
// LayerNorm's.
func (n *TailNet[T]) Params() []*Param[T] {
	var ps []*Param[T]
	for _, l := range n.Layers {
		ps = append(ps, l.Params()...)
	}
	if n.Final != nil {
		ps = append(ps, n.Final.Params()...)
	}
	return ps
}

// Forward runs the layers on x [n, H] with sequence offsets off.
func (n *TailNet[T]) Forward(x *Mat[T], off []int, train bool) *Mat[T] {
	h := x
	for _, l := range n.Layers {
		l.Off = off
		h = l.Forward(h, train)
	}
	if n.Final != nil {
		h = n.Final.Forward(h, train)
	}
	return n.Pool.Forward(h, off)
}

// Infer runs the tail in evaluation mode; safe for concurrent use (the
// layers' Off is not used).
func (n *TailNet[T]) Infer(x *Mat[T], off []int) *Mat[T] {
	h := x
	for _, l := range n.Layers {
		h = l.inferOff(h, off)
	}
	if n.Final != nil {
		h = n.Final.Infer(h)
	}
	return n.Pool.Infer(h, off)
}

// Backward takes the gradient of the pooled output and back-propagates
// down to layer Lowest.
func (n *TailNet[T]) Backward(dy *Mat[T]) {
	d := n.Pool.Backward(dy)
	if n.Final != nil {
		d = n.Final.Backward(d, n.Lowest < len(n.Layers))
	}
	for i := len(n.Layers) - 1; i >= n.Lowest; i-- {
		d = n.Layers[i].Backward(d, i > n.Lowest)
	}
}
