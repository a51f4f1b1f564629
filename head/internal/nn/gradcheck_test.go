package nn

import (
	"fmt"
	"math"
	"testing"
)

// randMat returns a rows×cols float64 matrix with entries in ±1.
func randMat(rng *RNG, rows, cols int) *Mat[float64] {
	m := NewMat[float64](rows, cols)
	Uniform(rng, m.Data, 1)
	return m
}

// checkClose fails when analytic and numeric derivatives disagree beyond
// a mixed absolute/relative tolerance.
func checkClose(t *testing.T, what string, analytic, numeric float64) {
	t.Helper()
	const tol = 1e-6
	if d := math.Abs(analytic - numeric); d > tol*(1+math.Abs(numeric)) {
		t.Errorf("%s: analytic %.9g, finite difference %.9g (diff %.3g)", what, analytic, numeric, d)
	}
}

// gradCheck compares the backward pass of m with central differences of
// the scalar L = Σ R⊙m.Forward(x) for a fixed random R, over every
// parameter and every input element. before is called ahead of each
// Forward (dropout uses it to replay the same mask).
func gradCheck(t *testing.T, m Module[float64], x *Mat[float64], train bool, before func()) {
	t.Helper()
	gradCheckX(t, m, x, train, before, true)
}

// gradCheckParams checks the parameter gradients only (for a stack whose
// lowest layer computes no input gradient).
func gradCheckParams(t *testing.T, m Module[float64], x *Mat[float64], before func()) {
	t.Helper()
	gradCheckX(t, m, x, true, before, false)
}

func gradCheckX(t *testing.T, m Module[float64], x *Mat[float64], train bool, before func(), checkDX bool) {
	t.Helper()
	rng := NewRNG(99)
	if before != nil {
		before()
	}
	y := m.Forward(x, train)
	R := randMat(rng, y.Rows, y.Cols)
	loss := func() float64 {
		if before != nil {
			before()
		}
		out := m.Forward(x, train)
		var s float64
		for i, v := range out.Data {
			s += R.Data[i] * v
		}
		return s
	}
	ps := m.Params()
	ZeroGrad(ps)
	loss()
	dx := m.Backward(R, true)
	var dxCopy []float64
	if checkDX {
		dxCopy = append([]float64(nil), dx.Data...)
	}
	grads := make([][]float64, len(ps))
	for i, p := range ps {
		grads[i] = append([]float64(nil), p.G...)
	}
	const h = 1e-5
	for pi, p := range ps {
		for j := range p.W {
			w := p.W[j]
			p.W[j] = w + h
			lp := loss()
			p.W[j] = w - h
			lm := loss()
			p.W[j] = w
			checkClose(t, fmt.Sprintf("%s[%d]", p.Name, j), grads[pi][j], (lp-lm)/(2*h))
		}
	}
	for j := range dxCopy {
		v := x.Data[j]
		x.Data[j] = v + h
		lp := loss()
		x.Data[j] = v - h
		lm := loss()
		x.Data[j] = v
		checkClose(t, fmt.Sprintf("dx[%d]", j), dxCopy[j], (lp-lm)/(2*h))
	}
}

func TestGradLinear(t *testing.T) {
	t.Parallel()
	rng := NewRNG(1)
	gradCheck(t, NewLinear[float64]("fc", 5, 3, rng, false), randMat(rng, 4, 5), true, nil)
}

func TestGradActivations(t *testing.T) {
	t.Parallel()
	for _, k := range []ActKind{GELU, ReLU} {
		t.Run(string(k), func(t *testing.T) {
			rng := NewRNG(2)
			x := randMat(rng, 3, 7)
			for i := range x.Data { // keep ReLU inputs away from the kink
				if math.Abs(x.Data[i]) < 0.01 {
					x.Data[i] = 0.5
				}
			}
			gradCheck(t, NewActivation[float64](k), x, true, nil)
		})
	}
}

func TestGradDropout(t *testing.T) {
	t.Parallel()
	for _, train := range []bool{false, true} {
		t.Run(fmt.Sprintf("train=%v", train), func(t *testing.T) {
			d := NewDropout[float64](0.3, nil)
			// Replaying the seed makes every Forward draw the same mask.
			gradCheck(t, d, randMat(NewRNG(4), 4, 9), train, func() { d.RNG = NewRNG(7) })
		})
	}
}

// TestGradNetworkLoss checks a whole network (two hidden layers,
// dropout, output layer) through the loss with label smoothing and class
// weights, so the loss gradient and every layer are checked together.
func TestGradNetworkLoss(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ce   CrossEntropy
	}{
		{"plain", CrossEntropy{}},
		{"smoothing", CrossEntropy{Smoothing: 0.1}},
		{"class weights", CrossEntropy{ClassWeights: []float64{0.5, 2, 1.25}}},
		{"both", CrossEntropy{Smoothing: 0.2, ClassWeights: []float64{3, 1, 0.7}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := NewRNG(5)
			drop := NewDropout[float64](0.25, nil)
			net := &Sequential[float64]{Layers: []Module[float64]{
				NewLinear[float64]("h0", 6, 5, rng, false), NewActivation[float64](GELU), drop,
				NewLinear[float64]("h1", 5, 4, rng, false), NewActivation[float64](ReLU),
				NewLinear[float64]("out", 4, 3, rng, false),
			}}
			x := randMat(rng, 7, 6)
			y := []int{0, 2, 1, 1, 0, 2, 2}
			loss := func(grad *Mat[float64]) float64 {
				drop.RNG = NewRNG(11)
				return Loss(tc.ce, net.Forward(x, true), y, grad, nil)
			}
			ps := net.Params()
			ZeroGrad(ps)
			g := NewMat[float64](7, 3)
			loss(g)
			net.Backward(g, false)
			const h = 1e-5
			for _, p := range ps {
				for j := range p.W {
					w := p.W[j]
					p.W[j] = w + h
					lp := loss(nil)
					p.W[j] = w - h
					lm := loss(nil)
					p.W[j] = w
					checkClose(t, fmt.Sprintf("%s[%d]", p.Name, j), p.G[j], (lp-lm)/(2*h))
				}
			}
		})
	}
}

// TestLossGradient checks the loss gradient with respect to the logits
// directly, including the normalisation by the weight sum.
func TestLossGradient(t *testing.T) {
	t.Parallel()
	rng := NewRNG(6)
	z := randMat(rng, 5, 4)
	y := []int{3, 0, 1, 3, 2}
	ce := CrossEntropy{Smoothing: 0.15, ClassWeights: []float64{1, 2, 0.5, 1.5}}
	g := NewMat[float64](5, 4)
	Loss(ce, z, y, g, nil)
	const h = 1e-6
	for j := range z.Data {
		v := z.Data[j]
		z.Data[j] = v + h
		lp := Loss(ce, z, y, nil, nil)
		z.Data[j] = v - h
		lm := Loss(ce, z, y, nil, nil)
		z.Data[j] = v
		checkClose(t, fmt.Sprintf("dz[%d]", j), g.Data[j], (lp-lm)/(2*h))
	}
}
