package nn

import "math"

// Proj is a linear projection y = x·Wᵀ + b (W [out, in], PyTorch's
// layout) with an optional LoRA branch, as PEFT's lora.Linear:
//
//	y = x·Wᵀ + b + s·(drop(x)·Aᵀ)·Bᵀ,   s = alpha/r,
//
// A [r, in] Kaiming-uniform (a = √5, i.e. ±1/√in), B [out, r] zero. With
// W.Frozen (the base of a LoRA layer, or a layer not yet unfrozen) no
// gradient of W and b is computed, which saves a third of the products.
type Proj[T Float] struct {
	In, Out int
	W, B    *Param[T]
	LoRA    *LoRABranch[T]
	// ZeroBiasGrad marks a bias whose gradient is exactly zero (the
	// attention key's: it shifts a query's scores by a constant, which
	// softmax ignores), so it is left at 0 rather than summed from
	// rounding noise that Adam would turn into full-size steps.
	ZeroBiasGrad bool
	x, y         *Mat[T]
	dx           *Mat[T]
	// packs of a frozen W for the blocked kernel, kept between steps
	packs packCache
}

// LoRABranch is the low-rank update of a Proj.
type LoRABranch[T Float] struct {
	Rank    int
	Scale   T
	Dropout float64
	RNG     *RNG
	A, B    *Param[T]
	mask    []T
	xd, u   *Mat[T]
	du, dxd *Mat[T]
}

// NewProj returns a projection with zero weights (callers load them).
func NewProj[T Float](name string, in, out int) *Proj[T] {
	return &Proj[T]{In: in, Out: out,
		W: newParam[T](name+".weight", true, out, in),
		B: newParam[T](name+".bias", false, out)}
}

// AddLoRA attaches a LoRA branch of rank r and scale alpha/r, drawing A
// from init and dropout masks from drop.
func (p *Proj[T]) AddLoRA(name string, rank int, alpha, dropout float64, init, drop *RNG) {
	l := &LoRABranch[T]{Rank: rank, Scale: T(alpha / float64(rank)), Dropout: dropout, RNG: drop,
		A: newParam[T](name+".lora_A.weight", true, rank, p.In),
		B: newParam[T](name+".lora_B.weight", true, p.Out, rank)}
	Uniform(init, l.A.W, 1/math.Sqrt(float64(p.In)))
	p.LoRA = l
}

// Params returns W and b (even when frozen: the optimizer skips them),
// then A and B of the LoRA branch.
func (p *Proj[T]) Params() []*Param[T] {
	ps := []*Param[T]{p.W, p.B}
	if p.LoRA != nil {
		ps = append(ps, p.LoRA.A, p.LoRA.B)
	}
	return ps
}

func (p *Proj[T]) w() *Mat[T] { return &Mat[T]{Rows: p.Out, Cols: p.In, Data: p.W.W} }

// base computes y = x·Wᵀ + b; cache allows keeping a frozen W packed
// (not in Infer, which must not write p).
func (p *Proj[T]) base(x, y *Mat[T], cache bool) *Mat[T] {
	y = reuse(y, x.Rows, p.Out)
	if xs, ok := any(x.Data).([]float32); ok && useBlocked {
		linearForward32(xs, x.Rows, p.In, any(p.W.W).([]float32), p.W.version, p.Out, any(p.B.W).([]float32), any(y.Data).([]float32), p.cache(cache))
		return y
	}
	Gemm(false, true, 1, x, p.w(), 0, y)
	addBias(y, p.B.W)
	return y
}

// cache returns the pack cache when W is frozen and caching is allowed.
func (p *Proj[T]) cache(allowed bool) *packCache {
	if allowed && p.W.Frozen {
		return &p.packs
	}
	return nil
}

// inputGrad sets dx = dy·W (beta 0) or adds it (beta 1).
func (p *Proj[T]) inputGrad(dy *Mat[T], beta T, dx *Mat[T]) {
	if ds, ok := any(dy.Data).([]float32); ok && useBlocked {
		linearInputGrad32(ds, dy.Rows, p.Out, any(p.W.W).([]float32), p.W.version, p.In, float32(beta), any(dx.Data).([]float32), p.cache(true))
		return
	}
	Gemm(false, false, 1, dy, p.w(), beta, dx)
}

func addBias[T Float](y *Mat[T], b []T) {
	parallelFor(len(y.Data), func(lo, hi int) {
		for i := lo / y.Cols; i*y.Cols < hi; i++ {
			row := y.Row(i)
			j0, j1 := max(lo-i*y.Cols, 0), min(hi-i*y.Cols, y.Cols)
			for j := j0; j < j1; j++ {
				row[j] += b[j]
			}
		}
	})
}

// Forward computes the projection; x must stay unchanged until Backward.
func (p *Proj[T]) Forward(x *Mat[T], train bool) *Mat[T] {
	p.x = x
	p.y = p.base(x, p.y, true)
	if l := p.LoRA; l != nil {
		xd := x
		if train && l.Dropout > 0 {
			if cap(l.mask) < len(x.Data) {
				l.mask = make([]T, len(x.Data))
			}
			l.mask = l.mask[:len(x.Data)]
			dropoutMask(l.RNG, l.mask, l.Dropout)
			l.xd = reuse(l.xd, x.Rows, x.Cols)
			mulInto(l.xd.Data, x.Data, l.mask)
			xd = l.xd
		} else {
			l.mask = l.mask[:0]
			l.xd = x
		}
		l.u = reuse(l.u, x.Rows, l.Rank)
		Gemm(false, true, 1, xd, &Mat[T]{Rows: l.Rank, Cols: p.In, Data: l.A.W}, 0, l.u)
		Gemm(false, true, l.Scale, l.u, &Mat[T]{Rows: p.Out, Cols: l.Rank, Data: l.B.W}, 1, p.y)
	}
	return p.y
}

// Infer computes the projection (no dropout) into a new matrix.
func (p *Proj[T]) Infer(x *Mat[T]) *Mat[T] {
	y := p.base(x, nil, false)
	if l := p.LoRA; l != nil {
		u := NewMat[T](x.Rows, l.Rank)
		Gemm(false, true, 1, x, &Mat[T]{Rows: l.Rank, Cols: p.In, Data: l.A.W}, 0, u)
		Gemm(false, true, l.Scale, u, &Mat[T]{Rows: p.Out, Cols: l.Rank, Data: l.B.W}, 1, y)
	}
	return y
}

// Trainable reports whether Backward has a tensor of p to update.
func (p *Proj[T]) Trainable() bool { return !p.W.Frozen || p.LoRA != nil }

// Backward adds the gradients of the trainable tensors and returns dx
// when needDX is set:
//
//	dW += dyᵀ·x, db += Σ dy (unless frozen); dB += s·dyᵀ·u, du = s·dy·B,
//	dA += duᵀ·drop(x); dx = dy·W + (du·A)⊙mask.
func (p *Proj[T]) Backward(dy *Mat[T], needDX bool) *Mat[T] {
	if !p.W.Frozen {
		Gemm(true, false, 1, dy, p.x, 1, &Mat[T]{Rows: p.Out, Cols: p.In, Data: p.W.G})
		if !p.ZeroBiasGrad {
			colSums(dy, p.B.G)
		}
	}
	l := p.LoRA
	if l != nil {
		Gemm(true, false, l.Scale, dy, l.u, 1, &Mat[T]{Rows: p.Out, Cols: l.Rank, Data: l.B.G})
		l.du = reuse(l.du, dy.Rows, l.Rank)
		Gemm(false, false, l.Scale, dy, &Mat[T]{Rows: p.Out, Cols: l.Rank, Data: l.B.W}, 0, l.du)
		Gemm(true, false, 1, l.du, l.xd, 1, &Mat[T]{Rows: l.Rank, Cols: p.In, Data: l.A.G})
	}
	if !needDX {
		return nil
	}
	p.dx = reuse(p.dx, dy.Rows, p.In)
	p.inputGrad(dy, 0, p.dx)
	if l != nil {
		a := &Mat[T]{Rows: l.Rank, Cols: p.In, Data: l.A.W}
		if len(l.mask) == 0 {
			Gemm(false, false, 1, l.du, a, 1, p.dx)
		} else {
			l.dxd = reuse(l.dxd, dy.Rows, p.In)
			Gemm(false, false, 1, l.du, a, 0, l.dxd)
			parallelFor(len(p.dx.Data), func(lo, hi int) {
				dx, d, m := p.dx.Data[lo:hi], l.dxd.Data[lo:hi], l.mask[lo:hi]
				for i := range dx {
					dx[i] += d[i] * m[i]
				}
			})
		}
	}
	return p.dx
}

// colSums adds the column sums of m to g, rows in order (cores split
// the columns).
func colSums[T Float](m *Mat[T], g []T) {
	colsParallel(m.Rows, m.Cols, func(j0, j1 int) {
		gs := g[j0:j1]
		for i := 0; i < m.Rows; i++ {
			for j, v := range m.Row(i)[j0:j1] {
				gs[j] += v
			}
		}
	})
}

func mulInto[T Float](dst, a, b []T) {
	parallelFor(len(dst), func(lo, hi int) {
		d, x, y := dst[lo:hi], a[lo:hi], b[lo:hi]
		for i := range d {
			d[i] = x[i] * y[i]
		}
	})
}

// Merge returns W + s·B·A in [out, in] layout (W itself without LoRA).
func (p *Proj[T]) Merge() []T {
	w := append([]T(nil), p.W.W...)
	if l := p.LoRA; l != nil {
		Gemm(false, false, l.Scale, &Mat[T]{Rows: p.Out, Cols: l.Rank, Data: l.B.W},
			&Mat[T]{Rows: l.Rank, Cols: p.In, Data: l.A.W}, 1, &Mat[T]{Rows: p.Out, Cols: p.In, Data: w})
	}
	return w
}
