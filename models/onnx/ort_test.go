package onnx_test

import (
	"math"
	"testing"

	"github.com/bertserve/bertserve/models/internal/orttest"
	"github.com/bertserve/bertserve/models/onnx"
)

// TestRunsInONNXRuntime checks that ONNX Runtime loads what the writer
// produces and computes with it: a MatMul + Add + LayerNormalization +
// Softmax graph with a symbolic batch dimension, scalar constants, int
// attributes, a float attribute and a tensor attribute.
func TestRunsInONNXRuntime(t *testing.T) {
	orttest.Require(t)
	g := onnx.NewGraph("check")
	x := g.Input("x", onnx.Float, onnx.Sym("batch"), onnx.Dim(3))
	w := g.InitFloat("w", []int64{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	b := g.InitFloat("b", []int64{2}, []float32{0.5, -0.5})
	h := g.Op("Add", g.Op("MatMul", x, w), b)
	h = g.Op("Mul", h, g.ScalarFloat(0.5))
	ln := g.OpWith("LayerNormalization", []string{h, g.InitFloat("ln_w", []int64{2}, []float32{1, 1}), g.InitFloat("ln_b", []int64{2}, []float32{0, 0})},
		onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", 1e-5))
	sm := g.OpWith("Softmax", []string{h}, onnx.AttrInt("axis", -1))
	shape := g.Op("Shape", x)
	fill := g.OpWith("ConstantOfShape", []string{shape}, onnx.AttrTensor("value", onnx.FloatTensor("", []int64{1}, []float32{7})))
	g.Output(g.Rename(sm, "probs"), onnx.Float, onnx.Sym("batch"), onnx.Dim(2))
	g.Output(g.Rename(ln, "normed"), onnx.Float, onnx.Sym("batch"), onnx.Dim(2))
	g.Output(g.Rename(fill, "sevens"), onnx.Float, onnx.Sym("batch"), onnx.Dim(3))
	data, err := onnx.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	in := []float32{1, 0, 0, 0, 1, -1}
	out := orttest.Run(t, data, []orttest.Input{{Name: "x", Shape: []int64{2, 3}, Float32: in}}, []string{"probs", "normed", "sevens"}, nil)
	for r := 0; r < 2; r++ {
		var z [2]float64
		for c := 0; c < 2; c++ {
			var s float64 = []float64{0.5, -0.5}[c]
			for k := 0; k < 3; k++ {
				s += float64(in[r*3+k]) * float64([]float32{1, 2, 3, 4, 5, 6}[k*2+c])
			}
			z[c] = 0.5 * s
		}
		e0, e1 := math.Exp(z[0]), math.Exp(z[1])
		want := []float64{e0 / (e0 + e1), e1 / (e0 + e1)}
		mean := (z[0] + z[1]) / 2
		v := ((z[0]-mean)*(z[0]-mean) + (z[1]-mean)*(z[1]-mean)) / 2
		wantLN := []float64{(z[0] - mean) / math.Sqrt(v+1e-5), (z[1] - mean) / math.Sqrt(v+1e-5)}
		for c := 0; c < 2; c++ {
			if got := out["probs"].Data[r*2+c]; math.Abs(float64(got)-want[c]) > 1e-6 {
				t.Errorf("probs[%d][%d] = %v, want %v", r, c, got, want[c])
			}
			if got := out["normed"].Data[r*2+c]; math.Abs(float64(got)-wantLN[c]) > 1e-4 {
				t.Errorf("normed[%d][%d] = %v, want %v", r, c, got, wantLN[c])
			}
		}
	}
	for _, v := range out["sevens"].Data {
		if v != 7 {
			t.Fatalf("ConstantOfShape gave %v", out["sevens"].Data)
		}
	}
}

// TestIfRunsInONNXRuntime checks the If writer: branches that read the
// enclosing graph's values, chosen by a computed condition.
func TestIfRunsInONNXRuntime(t *testing.T) {
	orttest.Require(t)
	g := onnx.NewGraph("if")
	x := g.Input("x", onnx.Float, onnx.Sym("n"))
	pos := g.Op("Greater", g.OpWith("ReduceSum", []string{x}, onnx.AttrInt("keepdims", 0)), g.ScalarFloat(0))
	then := g.Branch("double")
	then.Output(then.Op("Mul", x, then.ScalarFloat(2)), onnx.Float)
	els := g.Branch("negate")
	els.Output(els.Op("Neg", x), onnx.Float)
	g.Output(g.Rename(g.If(pos, then, els, 1)[0], "y"), onnx.Float, onnx.Sym("n"))
	data, err := onnx.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want []float32 }{
		{[]float32{1, 2, -0.5}, []float32{2, 4, -1}},
		{[]float32{-1, 0.5}, []float32{1, -0.5}},
	} {
		out := orttest.Run(t, data, []orttest.Input{{Name: "x", Shape: []int64{int64(len(tc.in))}, Float32: tc.in}}, []string{"y"}, nil)["y"].Data
		for i := range tc.want {
			if out[i] != tc.want[i] {
				t.Errorf("If(%v) = %v, want %v", tc.in, out, tc.want)
				break
			}
		}
	}
}
