package nn

import "math"

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter 2019),
// as torch.optim.AdamW: w ← w·(1 − lr·λ) for decayed parameters, then
// w ← w − lr·m̂/(√v̂ + ε). Each parameter has its own step count and
// learning rate lr·LRScale, as torch's per-parameter state and parameter
// groups; frozen parameters are skipped and do not count steps, so a
// parameter unfrozen later starts its bias correction afresh.
type AdamW[T Float] struct {
	Beta1, Beta2, Eps, WeightDecay float64
	t                              []int
	m, v                           [][]T
}

// NewAdamW returns AdamW with β=(0.9, 0.999), ε=1e-8.
func NewAdamW[T Float](weightDecay float64) *AdamW[T] {
	return &AdamW[T]{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

// Step updates ps from their gradients with learning rate lr.
func (o *AdamW[T]) Step(ps []*Param[T], lr float64) {
	if o.m == nil {
		o.m, o.v, o.t = make([][]T, len(ps)), make([][]T, len(ps)), make([]int, len(ps))
		for i, p := range ps {
			o.m[i], o.v[i] = make([]T, len(p.W)), make([]T, len(p.W))
		}
	}
	b1, b2 := T(o.Beta1), T(o.Beta2)
	eps := T(o.Eps)
	for i, p := range ps {
		if p.Frozen {
			continue
		}
		o.t[i]++
		p.version++
		plr := lr * p.LRScale
		step := T(plr / (1 - math.Pow(o.Beta1, float64(o.t[i]))))
		vc := T(1 / math.Sqrt(1-math.Pow(o.Beta2, float64(o.t[i]))))
		decay := T(1)
		if p.Decay {
			decay = T(1 - plr*o.WeightDecay)
		}
		m, v, w, g := o.m[i], o.v[i], p.W, p.G
		parallelFor(len(w), func(lo, hi int) {
			adamRange(m[lo:hi], v[lo:hi], w[lo:hi], g[lo:hi], b1, b2, decay, step, vc, eps)
		})
	}
}

func adamRange[T Float](m, v, w, g []T, b1, b2, decay, step, vc, eps T) {
	switch ms := any(m).(type) {
	case []float32:
		adam32(ms, any(v).([]float32), any(w).([]float32), any(g).([]float32),
			float32(b1), float32(b2), float32(decay), float32(step), float32(vc), float32(eps))
	case []float64:
		adam64(ms, any(v).([]float64), any(w).([]float64), any(g).([]float64),
			float64(b1), float64(b2), float64(decay), float64(step), float64(vc), float64(eps))
	}
}

func adam32(m, v, w, g []float32, b1, b2, decay, step, vc, eps float32) {
	v, w, g = v[:len(m)], w[:len(m)], g[:len(m)]
	c1, c2 := 1-b1, 1-b2
	k := [8]float32{b1, c1, b2, c2, decay, step, vc, eps}
	done := adamVec(m, v, w, g, &k)
	m, v, w, g = m[done:], v[done:], w[done:], g[done:]
	for j, gj := range g {
		mj := b1*m[j] + c1*gj
		vj := b2*v[j] + c2*gj*gj
		m[j], v[j] = mj, vj
		w[j] = w[j]*decay - step*mj/(float32(math.Sqrt(float64(vj)))*vc+eps)
	}
}

func adam64(m, v, w, g []float64, b1, b2, decay, step, vc, eps float64) {
	v, w, g = v[:len(m)], w[:len(m)], g[:len(m)]
	c1, c2 := 1-b1, 1-b2
	for j, gj := range g {
		mj := b1*m[j] + c1*gj
		vj := b2*v[j] + c2*gj*gj
		m[j], v[j] = mj, vj
		w[j] = w[j]*decay - step*mj/(math.Sqrt(vj)*vc+eps)
	}
}
