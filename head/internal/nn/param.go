package nn

import "math"

// Param is one trainable tensor with its gradient.
type Param[T Float] struct {
	Name  string
	Shape []int
	W, G  []T
	// Decay marks weight matrices for weight decay (biases are not decayed).
	Decay bool
	// Frozen parameters are skipped by the optimizer (requires_grad=False).
	Frozen bool
	// LRScale multiplies the optimizer's learning rate for this parameter
	// (layer-wise decay); newParam sets 1.
	LRScale float64
	// version counts the changes of W made through this package (AdamW,
	// Restore, Touch): a frozen weight's packed copy is reused while it
	// stays the same.
	version uint64
}

// Touch records that W was changed from outside the optimizer, so that
// nothing computed from the old values is reused. Code that writes W
// directly after a forward pass must call it.
func (p *Param[T]) Touch() { p.version++ }

func newParam[T Float](name string, decay bool, shape ...int) *Param[T] {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param[T]{Name: name, Shape: shape, W: make([]T, n), G: make([]T, n), Decay: decay, LRScale: 1}
}

// Trainable returns the parameters of ps that are not frozen, appended
// to dst[:0]: the ones a step's gradient clearing, clipping and update
// need to touch (a frozen tensor's gradient is never written).
func Trainable[T Float](dst, ps []*Param[T]) []*Param[T] {
	dst = dst[:0]
	for _, p := range ps {
		if !p.Frozen {
			dst = append(dst, p)
		}
	}
	return dst
}

// ZeroGrad clears the gradients of ps.
func ZeroGrad[T Float](ps []*Param[T]) {
	for _, p := range ps {
		clear(p.G)
	}
}

// CountParams returns the number of scalars in ps.
func CountParams[T Float](ps []*Param[T]) int {
	n := 0
	for _, p := range ps {
		n += len(p.W)
	}
	return n
}

// GradNorm returns the global L2 norm of the gradients. Squares are
// summed by BLAS dot products over fixed chunks, the chunks in float64.
func GradNorm[T Float](ps []*Param[T]) float64 {
	const chunk = 4096
	var s float64
	for _, p := range ps {
		for lo := 0; lo < len(p.G); lo += chunk {
			g := p.G[lo:min(lo+chunk, len(p.G))]
			switch gs := any(g).(type) {
			case []float32:
				s += float64(impl.Sdot(len(gs), gs, 1, gs, 1))
			case []float64:
				s += impl.Ddot(len(gs), gs, 1, gs, 1)
			}
		}
	}
	return math.Sqrt(s)
}

// ClipGradNorm scales the gradients so their global norm is at most
// maxNorm (no-op when maxNorm <= 0) and returns the norm before clipping.
func ClipGradNorm[T Float](ps []*Param[T], maxNorm float64) float64 {
	norm := GradNorm(ps)
	if maxNorm > 0 && norm > maxNorm {
		s := T(maxNorm / (norm + 1e-12))
		for _, p := range ps {
			for i := range p.G {
				p.G[i] *= s
			}
		}
	}
	return norm
}

// Snapshot copies the weights of ps.
func Snapshot[T Float](ps []*Param[T]) [][]T {
	out := make([][]T, len(ps))
	for i, p := range ps {
		out[i] = append([]T(nil), p.W...)
	}
	return out
}

// Restore copies a Snapshot back into ps.
func Restore[T Float](ps []*Param[T], snap [][]T) {
	for i, p := range ps {
		copy(p.W, snap[i])
		p.version++
	}
}
