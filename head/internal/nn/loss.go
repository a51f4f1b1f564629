package nn

import "math"

// CrossEntropy is the softmax cross-entropy loss with label smoothing and
// class weights, defined exactly as PyTorch's
// CrossEntropyLoss(weight=w, label_smoothing=ε) with mean reduction:
//
//	ℓᵢ = (1−ε)·w[yᵢ]·(−log p[yᵢ]) + (ε/C)·Σ_c w[c]·(−log p[c])
//	loss = Σᵢ ℓᵢ / Σᵢ w[yᵢ]
//
// Without weights this is the cross-entropy against the smoothed target
// q = (1−ε)·onehot(y) + ε/C.
type CrossEntropy struct {
	Smoothing    float64
	ClassWeights []float64 // nil means all 1
}

// Weight returns the weight of class c.
func (ce CrossEntropy) Weight(c int) float64 {
	if ce.ClassWeights == nil {
		return 1
	}
	return ce.ClassWeights[c]
}

// WeightSum returns Σᵢ w[yᵢ], the normaliser.
func (ce CrossEntropy) WeightSum(y []int) float64 {
	if ce.ClassWeights == nil {
		return float64(len(y))
	}
	var s float64
	for _, c := range y {
		s += ce.ClassWeights[c]
	}
	return s
}

// LossSum computes, for logits [n, C] and labels y, the unnormalised loss
// Σᵢ ℓᵢ. When grad is non-nil it receives scale·∂ℓᵢ/∂zᵢ,
//
//	(1−ε)·w[yᵢ]·(p − onehot(yᵢ)) + (ε/C)·(Σ_c w[c]·p − w),
//
// and when probs is non-nil it receives the softmax.
func LossSum[T Float](ce CrossEntropy, logits *Mat[T], y []int, scale float64, grad, probs *Mat[T]) float64 {
	r := ce.Rows(logits.Cols)
	var sum float64
	for i := 0; i < logits.Rows; i++ {
		var g, pr []T
		if grad != nil {
			g = grad.Row(i)
		}
		if probs != nil {
			pr = probs.Row(i)
		}
		sum += RowLoss(r, logits.Row(i), y[i], scale, g)
		if pr != nil {
			for c := range pr {
				pr[c] = T(r.P[c])
			}
		}
	}
	return sum
}

// RowScratch holds what RowLoss needs for C classes, so a hot loop does
// not allocate; P holds the softmax of the last row.
type RowScratch struct {
	ce     CrossEntropy
	eps, k float64
	wsum   float64
	P      []float64
}

// Rows prepares RowLoss for C classes. A RowScratch serves one goroutine.
func (ce CrossEntropy) Rows(C int) *RowScratch {
	r := &RowScratch{ce: ce, eps: ce.Smoothing, k: ce.Smoothing / float64(C), wsum: float64(C), P: make([]float64, C)}
	if ce.ClassWeights != nil {
		r.wsum = 0
		for _, w := range ce.ClassWeights {
			r.wsum += w
		}
	}
	return r
}

// RowLoss returns ℓ for one row of logits z with label y and, when g is
// non-nil, sets g = scale·∂ℓ/∂z (see LossSum).
func RowLoss[T Float](r *RowScratch, z []T, y int, scale float64, g []T) float64 {
	lse := logSumExp(z, r.P)
	wy := r.ce.Weight(y)
	eps, k := r.eps, r.k
	l := (1 - eps) * wy * (lse - float64(z[y]))
	if eps > 0 {
		for c, v := range z {
			l += k * r.ce.Weight(c) * (lse - float64(v))
		}
	}
	if g != nil {
		for c := range g {
			d := (1 - eps) * wy * r.P[c]
			if c == y {
				d -= (1 - eps) * wy
			}
			if eps > 0 {
				d += k * (r.wsum*r.P[c] - r.ce.Weight(c))
			}
			g[c] = T(scale * d)
		}
	}
	return l
}

// logSumExp returns log Σ exp(z) and leaves softmax(z) in p.
func logSumExp[T Float](z []T, p []float64) float64 {
	if len(z) == 2 { // one exp and one log1p
		a, b := float64(z[0]), float64(z[1])
		hi, lo := 0, 1
		if b > a {
			a, b, hi, lo = b, a, 1, 0
		}
		e := math.Exp(b - a)
		p[hi], p[lo] = 1/(1+e), e/(1+e)
		return a + math.Log1p(e)
	}
	m := math.Inf(-1)
	for _, v := range z {
		m = max(m, float64(v))
	}
	var s float64
	for c, v := range z {
		p[c] = math.Exp(float64(v) - m)
		s += p[c]
	}
	for c := range p {
		p[c] /= s
	}
	return m + math.Log(s)
}

// Loss returns the normalised loss over a batch and, when grad is
// non-nil, fills it with the gradient with respect to the logits.
func Loss[T Float](ce CrossEntropy, logits *Mat[T], y []int, grad, probs *Mat[T]) float64 {
	ws := ce.WeightSum(y)
	if ws == 0 {
		return 0
	}
	return LossSum(ce, logits, y, 1/ws, grad, probs) / ws
}

// Softmax turns each row of logits into probabilities, in float64.
func Softmax[T Float](logits *Mat[T]) [][]float64 {
	out := make([][]float64, logits.Rows)
	for i := range out {
		out[i] = make([]float64, logits.Cols)
		logSumExp(logits.Row(i), out[i])
	}
	return out
}
