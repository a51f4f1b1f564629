package head

import (
	"fmt"
	"math"
	"testing"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// TestGradHeads checks the backward pass of every head layout, as
// buildNetwork assembles it, against central finite differences of the
// training loss (label smoothing and class weights included), in float64.
func TestGradHeads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a    arch
		ce   nn.CrossEntropy
	}{
		{"softmax", arch{Head: HeadSoftmax}, nn.CrossEntropy{}},
		{"softmax smoothing", arch{Head: HeadSoftmax}, nn.CrossEntropy{Smoothing: 0.1}},
		{"mlp gelu, class weights", arch{Head: HeadMLP, Hidden: []int{5}, Activation: "gelu"}, nn.CrossEntropy{ClassWeights: []float64{2, 0.5, 1}}},
		{"mlp relu 2 layers, dropout on", arch{Head: HeadMLP, Hidden: []int{6, 4}, Activation: "relu", Dropout: 0.3}, nn.CrossEntropy{Smoothing: 0.05}},
		{"mlp, everything", arch{Head: HeadMLP, Hidden: []int{5}, Activation: "gelu", Dropout: 0.2},
			nn.CrossEntropy{Smoothing: 0.2, ClassWeights: []float64{1, 3, 0.25}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.a.Dim, tc.a.Classes = 7, 3
			net, err := buildNetwork[float64](tc.a, 5)
			if err != nil {
				t.Fatal(err)
			}
			ps := net.seq.Params()
			rng := nn.NewRNG(6)
			for _, p := range ps { // move zero-initialised tensors (softmax W, LoRA B)
				nn.Uniform(rng, p.W, 0.5)
			}
			x := nn.NewMat[float64](9, 7)
			nn.Uniform(rng, x.Data, 1)
			y := []int{0, 1, 2, 2, 1, 0, 0, 1, 2}
			var drops []*nn.Dropout[float64]
			for _, l := range net.seq.Layers {
				if d, ok := l.(*nn.Dropout[float64]); ok {
					drops = append(drops, d)
				}
			}
			loss := func(g *nn.Mat[float64]) float64 {
				for _, d := range drops { // same masks on every call
					d.RNG = nn.NewRNG(77)
				}
				return nn.Loss(tc.ce, net.seq.Forward(x, true), y, g, nil)
			}
			nn.ZeroGrad(ps)
			g := nn.NewMat[float64](9, 3)
			loss(g)
			net.seq.Backward(g, false)
			const h = 1e-5
			for _, p := range ps {
				for j := range p.W {
					w := p.W[j]
					p.W[j] = w + h
					lp := loss(nil)
					p.W[j] = w - h
					lm := loss(nil)
					p.W[j] = w
					num := (lp - lm) / (2 * h)
					if d := math.Abs(p.G[j] - num); d > 1e-6*(1+math.Abs(num)) {
						t.Errorf("%s[%d]: backward %.9g, finite difference %.9g", p.Name, j, p.G[j], num)
					}
				}
			}
		})
	}
}

// TestSoftmaxObjectiveGradient checks the fused float32 L-BFGS objective
// two ways: its value and gradient against the float64 network code
// (itself checked by finite differences) at the full weights it stands
// for, and its gradient against finite differences of its own value. Two
// classes exercise the reduced binary form, three the general one.
func TestSoftmaxObjectiveGradient(t *testing.T) {
	t.Parallel()
	for _, C := range []int{2, 3} {
		t.Run(fmt.Sprint(C, " classes"), func(t *testing.T) {
			t.Parallel()
			d := blobs(2500, 6, C, 2, 13) // three blocks, the last one partial
			x := packRows(d.X)
			weights := []float64{1, 2, 0.5}[:C]
			ce := nn.CrossEntropy{Smoothing: 0.1, ClassWeights: weights}
			const lambda = 0.01
			o := newSoftmaxObjective(x, d.Y, ce, lambda, C)
			rng := nn.NewRNG(3)
			w := make([]float64, o.dim())
			nn.Uniform(rng, w, 0.5)
			o.evaluate(w)
			f, grad := o.f, append([]float64(nil), o.grad...)

			// Reference in float64 through the generic layers, at the
			// full weights.
			full := o.full(w)
			lin := nn.NewLinear[float64]("out", 6, C, rng, true)
			copy(lin.Weight.W, full[:6*C])
			copy(lin.Bias.W, full[6*C:])
			x64 := nn.NewMat[float64](x.Rows, x.Cols)
			for i, v := range x.Data {
				x64.Data[i] = float64(v)
			}
			g := nn.NewMat[float64](x.Rows, C)
			ref := nn.Loss(ce, lin.Forward(x64, true), d.Y, g, nil)
			lin.Backward(g, false)
			var sq float64
			for j := 0; j < 6*C; j++ {
				sq += full[j] * full[j]
				lin.Weight.G[j] += lambda * full[j]
			}
			ref += lambda / 2 * sq
			if math.Abs(f-ref) > 1e-6*math.Abs(ref) {
				t.Errorf("objective %.9g, float64 reference %.9g", f, ref)
			}
			refGrad := append(append([]float64{}, lin.Weight.G...), lin.Bias.G...)
			if C == 2 { // chain rule through W = [−w/2, w/2], b = [−β/2, β/2]
				red := make([]float64, 7)
				for j := 0; j < 6; j++ {
					red[j] = (refGrad[6+j] - refGrad[j]) / 2
				}
				red[6] = (refGrad[13] - refGrad[12]) / 2
				refGrad = red
			}
			for j := range grad {
				if math.Abs(grad[j]-refGrad[j]) > 1e-5*(1+math.Abs(refGrad[j])) {
					t.Errorf("gradient %d: %.9g, float64 reference %.9g", j, grad[j], refGrad[j])
				}
			}
			// Finite differences of the float32 objective itself.
			const h = 1e-3
			for j := range w {
				v := w[j]
				w[j] = v + h
				o.evaluate(w)
				fp := o.f
				w[j] = v - h
				o.evaluate(w)
				fm := o.f
				w[j] = v
				if num := (fp - fm) / (2 * h); math.Abs(num-grad[j]) > 2e-3*(1+math.Abs(num)) {
					t.Errorf("w%d: gradient %.6g, finite difference %.6g", j, grad[j], num)
				}
			}
		})
	}
}

// TestParamShapesMatchNetwork keeps paramShapes (used to check files
// before allocating) in step with buildNetwork.
func TestParamShapesMatchNetwork(t *testing.T) {
	t.Parallel()
	for _, a := range []arch{
		{Head: HeadSoftmax, Dim: 5, Classes: 2},
		{Head: HeadMLP, Hidden: []int{4, 3}, Activation: "gelu", Dim: 5, Classes: 4},
	} {
		net, err := buildNetwork[float32](a, 1)
		if err != nil {
			t.Fatal(err)
		}
		shapes := a.paramShapes()
		ps := net.seq.Params()
		if len(ps) != len(shapes) {
			t.Fatalf("%d params, %d shapes", len(ps), len(shapes))
		}
		for _, p := range ps {
			if s, ok := shapes[p.Name]; !ok || fmt.Sprint(s) != fmt.Sprint(p.Shape) {
				t.Errorf("%s: shape %v, paramShapes %v", p.Name, p.Shape, s)
			}
		}
	}
}
