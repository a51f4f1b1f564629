package nn

import "math"

// LoRA is a low-rank residual adapter on the input features:
//
//	h' = h + (alpha/r)·B·A·h
//
// with A [r, dim] drawn small and uniform (±1/√dim, as PEFT's Kaiming
// init) and B [dim, r] zero, so training starts from the identity. In
// batch (row) form: U = X·Aᵀ, Y = X + s·U·Bᵀ.
type LoRA[T Float] struct {
	Dim, Rank int
	Alpha     float64
	A, B      *Param[T]
	x, u, y   *Mat[T]
	du, dx    *Mat[T]
}

// NewLoRA returns an adapter of the given rank and alpha on dim features.
func NewLoRA[T Float](name string, dim, rank int, alpha float64, rng *RNG) *LoRA[T] {
	l := &LoRA[T]{Dim: dim, Rank: rank, Alpha: alpha,
		A: newParam[T](name+".lora_A", true, rank, dim),
		B: newParam[T](name+".lora_B", true, dim, rank)}
	Uniform(rng, l.A.W, 1/math.Sqrt(float64(dim)))
	return l
}

// Scale returns alpha/rank.
func (l *LoRA[T]) Scale() T { return T(l.Alpha / float64(l.Rank)) }

// Params returns A and B.
func (l *LoRA[T]) Params() []*Param[T] { return []*Param[T]{l.A, l.B} }

func (l *LoRA[T]) a() *Mat[T] { return &Mat[T]{Rows: l.Rank, Cols: l.Dim, Data: l.A.W} }
func (l *LoRA[T]) b() *Mat[T] { return &Mat[T]{Rows: l.Dim, Cols: l.Rank, Data: l.B.W} }

func (l *LoRA[T]) apply(x, u, y *Mat[T]) (*Mat[T], *Mat[T]) {
	u = reuse(u, x.Rows, l.Rank)
	Gemm(false, true, 1, x, l.a(), 0, u)
	y = reuse(y, x.Rows, l.Dim)
	copy(y.Data, x.Data)
	Gemm(false, true, l.Scale(), u, l.b(), 1, y)
	return u, y
}

// Forward computes X + s·(X·Aᵀ)·Bᵀ; x must stay unchanged until Backward.
func (l *LoRA[T]) Forward(x *Mat[T], train bool) *Mat[T] {
	l.x = x
	l.u, l.y = l.apply(x, l.u, l.y)
	return l.y
}

// Infer computes the adapted features into new matrices.
func (l *LoRA[T]) Infer(x *Mat[T]) *Mat[T] {
	_, y := l.apply(x, nil, nil)
	return y
}

// Backward: dB += s·dYᵀ·U, dU = s·dY·B, dA += dUᵀ·X, dX = dY + dU·A.
func (l *LoRA[T]) Backward(dy *Mat[T], needDX bool) *Mat[T] {
	s := l.Scale()
	Gemm(true, false, s, dy, l.u, 1, &Mat[T]{Rows: l.Dim, Cols: l.Rank, Data: l.B.G})
	l.du = reuse(l.du, dy.Rows, l.Rank)
	Gemm(false, false, s, dy, l.b(), 0, l.du)
	Gemm(true, false, 1, l.du, l.x, 1, &Mat[T]{Rows: l.Rank, Cols: l.Dim, Data: l.A.G})
	if !needDX {
		return nil
	}
	l.dx = reuse(l.dx, dy.Rows, l.Dim)
	copy(l.dx.Data, dy.Data)
	Gemm(false, false, 1, l.du, l.a(), 1, l.dx)
	return l.dx
}
