package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func tinyGraph() *Graph {
	g := NewGraph("tiny")
	x := g.Input("x", Float, Sym("batch"), Dim(3))
	w := g.InitFloat("w", []int64{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	b := g.InitFloat("b", []int64{2}, []float32{0.5, -0.5})
	y := g.Op("Add", g.Op("MatMul", x, w), b)
	s := g.OpWith("Softmax", []string{y}, AttrInt("axis", -1))
	g.Output(g.Rename(s, "probs"), Float, Sym("batch"), Dim(2))
	return g
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	m := NewModel(tinyGraph())
	m.Metadata = map[string]string{"b": "2", "a": "1"}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	if info.IRVersion != DefaultIRVersion || !reflect.DeepEqual(info.Opsets, []Opset{{"", DefaultOpset}}) {
		t.Errorf("ir %d opsets %v", info.IRVersion, info.Opsets)
	}
	if info.ProducerName != "bertserve" || info.GraphName != "tiny" {
		t.Errorf("producer %q graph %q", info.ProducerName, info.GraphName)
	}
	if !reflect.DeepEqual(info.Metadata, m.Metadata) {
		t.Errorf("metadata %v", info.Metadata)
	}
	wantIn := []ValueInfo{{Name: "x", Type: Float, Dims: []Dimension{Sym("batch"), Dim(3)}}}
	if !reflect.DeepEqual(info.Inputs, wantIn) {
		t.Errorf("inputs %v, want %v", info.Inputs, wantIn)
	}
	wantOut := []ValueInfo{{Name: "probs", Type: Float, Dims: []Dimension{Sym("batch"), Dim(2)}}}
	if !reflect.DeepEqual(info.Outputs, wantOut) {
		t.Errorf("outputs %v, want %v", info.Outputs, wantOut)
	}
	if got := info.OpCounts(); !reflect.DeepEqual(got, map[string]int{"MatMul": 1, "Add": 1, "Softmax": 1}) {
		t.Errorf("op counts %v", got)
	}
	last := info.Nodes[2]
	if last.OpType != "Softmax" || !reflect.DeepEqual(last.Outputs, []string{"probs"}) || !reflect.DeepEqual(last.AttrNames, []string{"axis"}) {
		t.Errorf("softmax node %+v", last)
	}
	w, ok := info.Initializer("w")
	if !ok || !reflect.DeepEqual(w.Dims, []int64{3, 2}) || w.Type != Float {
		t.Fatalf("initializer w: %+v", w)
	}
	f, err := w.Floats()
	if err != nil || !reflect.DeepEqual(f, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("w data %v %v", f, err)
	}
	// WriteTo and Marshal agree, and the count is the byte count.
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Errorf("WriteTo wrote %d bytes (err %v), Marshal %d", n, err, len(data))
	}
}

func TestLargeInitializerStreams(t *testing.T) {
	t.Parallel()
	g := NewGraph("big")
	x := g.Input("x", Float, Dim(1), Dim(50000))
	data := make([]float32, 50000)
	for i := range data {
		data[i] = float32(i)
	}
	w := g.InitFloat("w", []int64{1, 50000}, data)
	g.Output(g.Rename(g.Op("Add", x, w), "y"), Float, Dim(1), Dim(50000))
	raw, err := NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(raw)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := info.Initializer("w")
	got, err := ti.Floats()
	if err != nil || !reflect.DeepEqual(got, data) {
		t.Fatalf("round trip of 50000 floats failed: %v", err)
	}
}

func TestConstantsAreShared(t *testing.T) {
	t.Parallel()
	g := NewGraph("c")
	a, b := g.ScalarFloat(0.5), g.ScalarFloat(0.5)
	c := g.ScalarFloat(2)
	s1, s2 := g.Ints(0, -1), g.Ints(0, -1)
	s3 := g.Ints(0)
	i1, i2 := g.ScalarInt64(1), g.ScalarInt64(1)
	if a != b || a == c || s1 != s2 || s1 == s3 || i1 != i2 {
		t.Errorf("dedup: %s %s %s | %s %s %s | %s %s", a, b, c, s1, s2, s3, i1, i2)
	}
	if len(g.Initializers) != 5 {
		t.Errorf("%d initializers, want 5", len(g.Initializers))
	}
	if g.Initializers[0].Dims == nil || len(g.Initializers[0].Dims) != 0 {
		t.Errorf("scalar dims %v, want rank 0", g.Initializers[0].Dims)
	}
}

func TestFreshAvoidsTakenNames(t *testing.T) {
	t.Parallel()
	g := NewGraph("f")
	g.Input("MatMul_0", Float, Dim(1))
	if got := g.Fresh("MatMul"); got != "MatMul_1" {
		t.Errorf("Fresh = %s, want MatMul_1", got)
	}
}

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		build func(g *Graph)
		want  string
	}{
		{"duplicate input", func(g *Graph) {
			g.Input("x", Float, Dim(1))
			g.Input("x", Float, Dim(1))
			g.Output("x", Float)
		}, `value "x" defined twice`},
		{"shape mismatch", func(g *Graph) {
			g.InitFloat("w", []int64{2, 2}, []float32{1, 2, 3})
		}, "shape [2 2] holds 4 elements, data has 3"},
		{"undefined input", func(g *Graph) {
			y := g.Op("Relu", "nope")
			g.Output(y, Float)
		}, `reads "nope" before anything defines it`},
		{"no outputs", func(g *Graph) {
			g.Input("x", Float, Dim(1))
		}, "no outputs declared"},
		{"branch reads a later value", func(g *Graph) {
			c := g.Input("c", Bool)
			x := g.Input("x", Float)
			br, other := g.Branch("then"), g.Branch("else")
			br.Output(br.Op("Relu", "late"), Float)
			other.Output(other.Op("Relu", x), Float)
			y := g.If(c, br, other, 1)[0]
			g.AddNode(Node{OpType: "Identity", Inputs: []string{x}, Outputs: []string{"late"}})
			g.Output(y, Float)
		}, `reads "late" before anything defines it`},
		{"branch shadows an outer name", func(g *Graph) {
			g.Input("c", Bool)
			g.Branch("then").Input("c", Bool)
		}, `value "c" defined twice`},
		{"nested branch misuse", func(g *Graph) {
			g.Input("c", Bool)
			g.Branch("then").Branch("inner").Input("c", Bool)
		}, `value "c" defined twice`},
		{"branch output count", func(g *Graph) {
			c := g.Input("c", Bool)
			x := g.Input("x", Float)
			br, other := g.Branch("then"), g.Branch("else")
			br.Output(br.Op("Relu", x), Float)
			g.Output(g.If(c, br, other, 1)[0], Float)
		}, `If branch "else" has 0 outputs, want 1`},
		{"output never produced", func(g *Graph) {
			g.Input("x", Float, Dim(1))
			g.Output("y", Float)
		}, `output "y" is never produced`},
		{"output without type", func(g *Graph) {
			x := g.Input("x", Float, Dim(1))
			g.Output(g.Op("Relu", x), Undefined)
		}, "has no element type"},
		{"rename input", func(g *Graph) {
			x := g.Input("x", Float, Dim(1))
			g.Rename(x, "z")
		}, "only node outputs can be renamed"},
		{"rename unknown", func(g *Graph) {
			g.Rename("q", "z")
		}, `rename of unknown value "q"`},
		{"wrong data type", func(g *Graph) {
			g.Initializer(Tensor{Name: "t", Type: Int64, Dims: []int64{1}, Float32: []float32{1}})
		}, "Float32 data for type int64"},
		{"raw string", func(g *Graph) {
			g.Initializer(Tensor{Name: "t", Type: String, Dims: []int64{1}, Raw: []byte{1}})
		}, "cannot be stored as raw bytes"},
		{"bad attr tensor", func(g *Graph) {
			x := g.Input("x", Int64, Dim(1))
			y := g.OpWith("ConstantOfShape", []string{x}, AttrTensor("value", FloatTensor("", []int64{1}, nil)))
			g.Output(y, Float)
		}, "shape [1] but no data"},
		{"no op type", func(g *Graph) {
			g.AddNode(Node{Outputs: []string{"y"}})
			g.Output("y", Float)
		}, "has no op type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := NewGraph("v")
			tc.build(g)
			_, err := NewModel(g).Marshal()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRenameUpdatesConsumers(t *testing.T) {
	t.Parallel()
	g := NewGraph("r")
	x := g.Input("x", Float, Dim(2))
	h := g.Op("Relu", x)
	y := g.Op("Neg", h)
	g.Output(g.Rename(h, "hidden"), Float, Dim(2))
	g.Output(g.Rename(y, "out"), Float, Dim(2))
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := g.Nodes[1].Inputs[0]; got != "hidden" {
		t.Errorf("consumer reads %q, want hidden", got)
	}
}

func TestWriteFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := NewModel(tinyGraph()).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(data); err != nil {
		t.Fatal(err)
	}
	bad := NewGraph("bad")
	bad.Input("x", Float)
	if err := NewModel(bad).WriteFile(filepath.Join(t.TempDir(), "bad.onnx")); err == nil {
		t.Fatal("invalid graph written")
	}
}

func TestInspectRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, in := range [][]byte{nil, []byte("not a model"), {0x08}, {0x3a, 0x05, 1}} {
		if _, err := Inspect(in); err == nil {
			t.Errorf("Inspect(%q) succeeded", in)
		}
	}
}

func FuzzInspect(f *testing.F) {
	good, err := NewModel(tinyGraph()).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Inspect(data)
		if err != nil {
			return
		}
		for _, ti := range info.Initializers {
			ti.Floats() // must not panic
		}
		info.OpCounts()
	})
}
