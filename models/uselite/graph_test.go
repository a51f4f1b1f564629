package uselite

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models/internal/orttest"
	"github.com/bertserve/bertserve/models/onnx"
)

// fakeModel is a TF.js model with every weight BuildGraph reads, in the
// real shapes (with a 16-row embedding table) and random values.
func fakeModel(seed uint64) *TFJSModel {
	r := rand.New(rand.NewPCG(seed, 1))
	m := &TFJSModel{byName: map[string]*TFJSTensor{}, Ops: map[string]string{}}
	add := func(name string, scale float64, shape ...int) {
		t := &TFJSTensor{Name: name, Shape: shape, DType: "float32"}
		t.Float32 = make([]float32, t.Len())
		for i := range t.Float32 {
			t.Float32[i] = float32(r.NormFloat64() * scale)
		}
		m.Weights = append(m.Weights, t)
		m.byName[name] = t
	}
	set := func(name string, v float32) { add(name, 0); m.byName[name].Float32[0] = v }
	ints := func(name string, v ...int32) {
		shape := []int{len(v)}
		if len(v) == 1 {
			shape = []int{}
		}
		t := &TFJSTensor{Name: name, Shape: shape, DType: "int32", Int32: v}
		m.Weights = append(m.Weights, t)
		m.byName[name] = t
	}
	add(wEmbeddings, 0.3, 16, 256)
	add(wInvTimescales, 0, 1, 128)
	for i := range 128 {
		m.byName[wInvTimescales].Float32[i] = float32(math.Exp(-float64(i) * math.Log(1e4) / 127))
	}
	set(wLNEpsilon, 1e-6)
	set(wMaskBias, -1e9)
	set(wL2Epsilon, 1e-12)
	ints(wNumHeads, 4)
	ints(wMaxLength, 128)
	add(wResidualW, 0.05, 256, 512)
	add(wResidualB, 0.05, 512)
	add(wTanhW, 0.05, 512, 512)
	add(wTanhB, 0.05, 512)
	for l, din := range []int{256, 512} {
		n := layerWeights(l)
		add(n.attnGamma, 0.1, din)
		add(n.attnBeta, 0.1, din)
		add(n.qkvW, 0.05, 1, 1, din, 3*din)
		add(n.qkvB, 0.05, 3*din)
		ints(n.split, int32(din), int32(din), int32(din))
		ints(n.headDim, int32(din/4))
		set(n.scale, float32(1/math.Sqrt(float64(din/4))))
		add(n.outW, 0.05, 1, 1, din, 512)
		add(n.outB, 0.05, 512)
		add(n.ffnGamma, 0.1, 512)
		add(n.ffnBeta, 0.1, 512)
		add(n.ffn1W, 0.05, 512, 1536)
		add(n.ffn1B, 0.05, 1536)
		add(n.ffn2W, 0.05, 1536, 512)
		add(n.ffn2B, 0.05, 512)
	}
	return m
}

func TestBuildGraphInterface(t *testing.T) {
	t.Parallel()
	g, err := BuildGraph(fakeModel(1))
	if err != nil {
		t.Fatal(err)
	}
	data, err := onnx.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	info, err := onnx.Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{info.Inputs[0].String(), info.Inputs[1].String()}; len(info.Inputs) != 2 ||
		got[0] != "input_ids: int64[batch sequence]" || got[1] != "attention_mask: int64[batch sequence]" {
		t.Errorf("inputs %v", info.Inputs)
	}
	if len(info.Outputs) != 1 || info.Outputs[0].String() != "sentence_embedding: float32[batch 512]" {
		t.Errorf("outputs %v", info.Outputs)
	}
	ops := info.OpCounts()
	for op, want := range map[string]int{"LayerNormalization": 4, "Softmax": 2, "Tanh": 1, "Relu": 2, "Gather": 1, "Split": 2} {
		if ops[op] != want {
			t.Errorf("%d %s nodes, want %d (all: %v)", ops[op], op, want, ops)
		}
	}
	if ts, ok := info.Initializer("timing_signal"); !ok || len(ts.Dims) != 2 || ts.Dims[0] != 128 || ts.Dims[1] != 256 {
		t.Errorf("timing_signal initializer: %+v", ts)
	}
}

func TestBuildGraphErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(m *TFJSModel)
		want   string
	}{
		{"missing", func(m *TFJSModel) { delete(m.byName, wTanhW) }, "no weight " + wTanhW},
		{"shape", func(m *TFJSModel) { m.byName[wTanhB].Shape = []int{256} }, wTanhB},
		{"dtype", func(m *TFJSModel) { m.byName[wMaxLength].DType = "float32" }, wMaxLength},
		{"heads", func(m *TFJSModel) { m.byName[wNumHeads].Int32[0] = 8 }, "8 heads"},
		{"split", func(m *TFJSModel) { m.byName[layerWeights(1).split].Int32[2] = 7 }, "splits QKV"},
	}
	for _, tc := range tests {
		m := fakeModel(2)
		tc.change(m)
		if _, err := BuildGraph(m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// TestGraphMasking runs random weights through ONNX Runtime: every row is
// unit length, a text gives the same vector alone and padded beside a
// longer one (padding never leaks into real positions), and columns past
// 128 are ignored.
func TestGraphMasking(t *testing.T) {
	orttest.Require(t)
	g, err := BuildGraph(fakeModel(3))
	if err != nil {
		t.Fatal(err)
	}
	data, err := onnx.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	short := []int64{3, 1, 4, 1, 5}
	long := make([]int64, 140)
	for i := range long {
		long[i] = int64(i % 16)
	}
	alone := orttest.Run(t, data, batch([][]int64{short}), []string{OutputName}, nil)[OutputName].Data
	both := orttest.Run(t, data, batch([][]int64{short, long}), []string{OutputName}, nil)[OutputName].Data
	clipped := orttest.Run(t, data, batch([][]int64{long[:128]}), []string{OutputName}, nil)[OutputName].Data
	for i := range Dim {
		if d := math.Abs(float64(alone[i] - both[i])); d > 1e-5 {
			t.Fatalf("dim %d: %v alone, %v beside a longer text", i, alone[i], both[i])
		}
		if d := math.Abs(float64(clipped[i] - both[Dim+i])); d > 1e-5 {
			t.Fatalf("dim %d: 140 tokens give %v, their first 128 %v", i, both[Dim+i], clipped[i])
		}
	}
	for r := range 2 {
		var n float64
		for _, v := range both[r*Dim : (r+1)*Dim] {
			n += float64(v) * float64(v)
		}
		if math.Abs(n-1) > 1e-5 {
			t.Errorf("row %d has squared norm %v", r, n)
		}
	}
}
