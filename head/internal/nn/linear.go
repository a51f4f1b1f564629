package nn

import "math"

// Linear is y = x·Wᵀ + b with W stored [out, in] (PyTorch's layout, so
// saved weights load into torch.nn.Linear unchanged).
type Linear[T Float] struct {
	In, Out      int
	Weight, Bias *Param[T]
	x, y, dx     *Mat[T]
}

// NewLinear returns a layer initialised as PyTorch does: weights and
// biases uniform in ±1/√in. With zero set, both start at zero (the usual
// start for logistic regression).
func NewLinear[T Float](name string, in, out int, rng *RNG, zero bool) *Linear[T] {
	l := &Linear[T]{In: in, Out: out,
		Weight: newParam[T](name+".weight", true, out, in),
		Bias:   newParam[T](name+".bias", false, out)}
	if !zero {
		bound := 1 / math.Sqrt(float64(in))
		Uniform(rng, l.Weight.W, bound)
		Uniform(rng, l.Bias.W, bound)
	}
	return l
}

// Params returns the weight and the bias.
func (l *Linear[T]) Params() []*Param[T] { return []*Param[T]{l.Weight, l.Bias} }

func (l *Linear[T]) w() *Mat[T]  { return &Mat[T]{Rows: l.Out, Cols: l.In, Data: l.Weight.W} }
func (l *Linear[T]) gw() *Mat[T] { return &Mat[T]{Rows: l.Out, Cols: l.In, Data: l.Weight.G} }

func (l *Linear[T]) apply(x, y *Mat[T]) *Mat[T] {
	y = reuse(y, x.Rows, l.Out)
	Gemm(false, true, 1, x, l.w(), 0, y)
	b := l.Bias.W
	for i := 0; i < y.Rows; i++ {
		row := y.Row(i)
		for j := range row {
			row[j] += b[j]
		}
	}
	return y
}

// Forward computes x·Wᵀ + b; x must stay unchanged until Backward.
func (l *Linear[T]) Forward(x *Mat[T], train bool) *Mat[T] {
	l.x = x
	l.y = l.apply(x, l.y)
	return l.y
}

// Infer computes x·Wᵀ + b into a new matrix.
func (l *Linear[T]) Infer(x *Mat[T]) *Mat[T] { return l.apply(x, nil) }

// Backward adds dyᵀ·x to the weight gradient and column sums of dy to the
// bias gradient, and returns dy·W.
func (l *Linear[T]) Backward(dy *Mat[T], needDX bool) *Mat[T] {
	Gemm(true, false, 1, dy, l.x, 1, l.gw())
	gb := l.Bias.G
	for i := 0; i < dy.Rows; i++ {
		for j, v := range dy.Row(i) {
			gb[j] += v
		}
	}
	if !needDX {
		return nil
	}
	l.dx = reuse(l.dx, dy.Rows, l.In)
	Gemm(false, false, 1, dy, l.w(), 0, l.dx)
	return l.dx
}
