package nn

import "math"

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter 2019),
// as torch.optim.AdamW: w ← w·(1 − lr·λ) for decayed parameters, then
// w ← w − lr·m̂/(√v̂ + ε).
type AdamW[T Float] struct {
	Beta1, Beta2, Eps, WeightDecay float64
	t                              int
	m, v                           [][]T
}

// NewAdamW returns AdamW with β=(0.9, 0.999), ε=1e-8.
func NewAdamW[T Float](weightDecay float64) *AdamW[T] {
	return &AdamW[T]{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

// Step updates ps from their gradients with learning rate lr.
func (o *AdamW[T]) Step(ps []*Param[T], lr float64) {
	if o.m == nil {
		o.m, o.v = make([][]T, len(ps)), make([][]T, len(ps))
		for i, p := range ps {
			o.m[i], o.v[i] = make([]T, len(p.W)), make([]T, len(p.W))
		}
	}
	o.t++
	b1, b2 := T(o.Beta1), T(o.Beta2)
	step := T(lr / (1 - math.Pow(o.Beta1, float64(o.t))))
	vc := T(1 / math.Sqrt(1-math.Pow(o.Beta2, float64(o.t))))
	eps := T(o.Eps)
	for i, p := range ps {
		decay := T(1)
		if p.Decay {
			decay = T(1 - lr*o.WeightDecay)
		}
		m, v, w, g := o.m[i], o.v[i], p.W, p.G
		parallelFor(len(w), func(lo, hi int) {
			for j := lo; j < hi; j++ {
				gj := g[j]
				m[j] = b1*m[j] + (1-b1)*gj
				v[j] = b2*v[j] + (1-b2)*gj*gj
				w[j] = w[j]*decay - step*m[j]/(T(math.Sqrt(float64(v[j])))*vc+eps)
			}
		})
	}
}
