package models

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models/onnx"
	"github.com/bertserve/bertserve/models/safetensors"
)

func loadTestConfig(t testing.TB, name string) *Config {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join("testdata", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestBuildInterface(t *testing.T) {
	t.Parallel()
	bs, seq := onnx.Sym("batch"), onnx.Sym("sequence")
	tests := []struct {
		config  string
		inputs  []string
		outputs []onnx.ValueInfo
		ops     map[string]int // a few op counts that identify the layout
	}{
		{"tiny-bert.json", []string{InputIDs, InputMask, InputTypeIDs},
			[]onnx.ValueInfo{
				{Name: OutputHidden, Type: onnx.Float, Dims: []onnx.Dimension{bs, seq, onnx.Dim(32)}},
				{Name: OutputPooler, Type: onnx.Float, Dims: []onnx.Dimension{bs, onnx.Dim(32)}},
			},
			map[string]int{"LayerNormalization": 5, "Erf": 2, "Softmax": 2, "Tanh": 1, "CumSum": 0}},
		{"tiny-roberta.json", []string{InputIDs, InputMask},
			[]onnx.ValueInfo{
				{Name: OutputHidden, Type: onnx.Float, Dims: []onnx.Dimension{bs, seq, onnx.Dim(32)}},
				{Name: OutputPooler, Type: onnx.Float, Dims: []onnx.Dimension{bs, onnx.Dim(32)}},
			},
			map[string]int{"LayerNormalization": 5, "CumSum": 1, "Tanh": 1}},
		{"tiny-distilbert.json", []string{InputIDs, InputMask},
			[]onnx.ValueInfo{{Name: OutputHidden, Type: onnx.Float, Dims: []onnx.Dimension{bs, seq, onnx.Dim(32)}}},
			map[string]int{"LayerNormalization": 5, "Tanh": 0, "CumSum": 0}},
		{"tiny-bert-gelu-new.json", []string{InputIDs, InputMask, InputTypeIDs}, nil,
			map[string]int{"Erf": 0, "Tanh": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.config, func(t *testing.T) {
			t.Parallel()
			cfg := loadTestConfig(t, tc.config)
			data, err := BuildONNX(cfg, RandomWeights(cfg, 1))
			if err != nil {
				t.Fatal(err)
			}
			info, err := onnx.Inspect(data)
			if err != nil {
				t.Fatal(err)
			}
			var in []string
			for _, v := range info.Inputs {
				in = append(in, v.Name)
				want := onnx.ValueInfo{Name: v.Name, Type: onnx.Int64, Dims: []onnx.Dimension{bs, seq}}
				if !reflect.DeepEqual(v, want) {
					t.Errorf("input %v, want %v", v, want)
				}
			}
			if !reflect.DeepEqual(in, tc.inputs) {
				t.Errorf("inputs %v, want %v", in, tc.inputs)
			}
			if tc.outputs != nil && !reflect.DeepEqual(info.Outputs, tc.outputs) {
				t.Errorf("outputs %v, want %v", info.Outputs, tc.outputs)
			}
			ops := info.OpCounts()
			for op, n := range tc.ops {
				if ops[op] != n {
					t.Errorf("%d %s nodes, want %d (all: %v)", ops[op], op, n, ops)
				}
			}
			if !reflect.DeepEqual(info.Opsets, []onnx.Opset{{Domain: "", Version: 17}}) {
				t.Errorf("opsets %v", info.Opsets)
			}
		})
	}
}

// TestBuildStoresTransposedWeights checks the one layout change the
// builder makes: Linear weights [out, in] become MatMul's [in, out].
func TestBuildStoresTransposedWeights(t *testing.T) {
	t.Parallel()
	cfg := loadTestConfig(t, "tiny-bert.json")
	w := RandomWeights(cfg, 3)
	data, err := BuildONNX(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	info, err := onnx.Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	name := "encoder.layer.1.intermediate.dense.weight"
	ti, ok := info.Initializer(name + ".T")
	if !ok {
		t.Fatalf("no initializer %s.T", name)
	}
	got, err := ti.Floats()
	if err != nil {
		t.Fatal(err)
	}
	src := w[name] // [64, 32]
	if !reflect.DeepEqual(ti.Dims, []int64{32, 64}) {
		t.Fatalf("dims %v", ti.Dims)
	}
	for o := 0; o < 64; o++ {
		for i := 0; i < 32; i++ {
			if got[i*64+o] != src.Data[o*32+i] {
				t.Fatalf("W.T[%d][%d] = %v, want W[%d][%d] = %v", i, o, got[i*64+o], o, i, src.Data[o*32+i])
			}
		}
	}
}

func withPrefix(w Weights, prefix string) Weights {
	out := Weights{}
	for k, v := range w {
		out[prefix+k] = v
	}
	return out
}

// TestBuildAcceptsPrefixesAndAliases: the same weights under "bert." /
// "roberta." / "distilbert." names, with TensorFlow-era LayerNorm
// gamma/beta names, or with extra tensors (heads, buffers) build the
// identical model.
func TestBuildAcceptsPrefixesAndAliases(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ config, prefix string }{
		{"tiny-bert.json", "bert."}, {"tiny-roberta.json", "roberta."}, {"tiny-distilbert.json", "distilbert."},
	} {
		cfg := loadTestConfig(t, tc.config)
		w := RandomWeights(cfg, 5)
		want, err := BuildONNX(cfg, w)
		if err != nil {
			t.Fatal(err)
		}
		p := withPrefix(w, tc.prefix)
		p["classifier.weight"] = safetensors.Tensor{Shape: []int{2, 32}, Data: make([]float32, 64)}
		p[tc.prefix+"embeddings.position_ids"] = safetensors.Tensor{Shape: []int{1, 4}, Data: []float32{0, 1, 2, 3}}
		got, err := BuildONNX(cfg, p)
		if err != nil {
			t.Fatalf("%s with prefix %s: %v", tc.config, tc.prefix, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: prefixed weights built a different model", tc.config)
		}
		if tc.config == "tiny-bert.json" {
			old := Weights{}
			for k, v := range w {
				k = strings.Replace(k, "LayerNorm.weight", "LayerNorm.gamma", 1)
				k = strings.Replace(k, "LayerNorm.bias", "LayerNorm.beta", 1)
				old[k] = v
			}
			got, err := BuildONNX(cfg, old)
			if err != nil || string(got) != string(want) {
				t.Errorf("gamma/beta names: err %v, same model %v", err, string(got) == string(want))
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	cfg := loadTestConfig(t, "tiny-bert.json")
	base := RandomWeights(cfg, 1)
	edit := func(f func(w Weights)) Weights {
		w := Weights{}
		for k, v := range base {
			w[k] = v
		}
		f(w)
		return w
	}
	tests := []struct {
		name string
		w    Weights
		want string
	}{
		{"no word embeddings", edit(func(w Weights) { delete(w, wordEmbName) }), `no "embeddings.word_embeddings.weight" tensor`},
		{"missing layer tensor", edit(func(w Weights) { delete(w, "encoder.layer.1.output.dense.bias") }), `no tensor "encoder.layer.1.output.dense.bias"`},
		{"wrong shape", edit(func(w Weights) {
			w["encoder.layer.0.attention.self.key.weight"] = safetensors.Tensor{Shape: []int{32, 16}, Data: make([]float32, 512)}
		}), `tensor "encoder.layer.0.attention.self.key.weight" has shape [32 16], but the config implies [32 32]`},
		{"vocab mismatch", edit(func(w Weights) {
			w[wordEmbName] = safetensors.Tensor{Shape: []int{10, 32}, Data: make([]float32, 320)}
		}), "has shape [10 32], but the config implies [30522 32]"},
		{"pooler bias without weight", edit(func(w Weights) { delete(w, "pooler.dense.weight") }), `has "pooler.dense.bias" but no "pooler.dense.weight"`},
		{"empty", Weights{}, "checkpoint has no"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := BuildONNX(cfg, tc.w)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBuildWithoutPooler(t *testing.T) {
	t.Parallel()
	cfg := loadTestConfig(t, "tiny-roberta.json")
	w := RandomWeightsWith(cfg, RandomOptions{Seed: 1})
	b, err := Build(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	if b.HasPooler || !reflect.DeepEqual(b.Outputs, []string{OutputHidden}) {
		t.Errorf("pooler %v outputs %v", b.HasPooler, b.Outputs)
	}
}

func TestRandomWeights(t *testing.T) {
	t.Parallel()
	cfg := loadTestConfig(t, "tiny-bert.json")
	a, b := RandomWeights(cfg, 7), RandomWeights(cfg, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different weights")
	}
	if reflect.DeepEqual(a[wordEmbName], RandomWeights(cfg, 8)[wordEmbName]) {
		t.Fatal("different seeds, same weights")
	}
	if len(a) != len(paramSpecs(cfg, true)) {
		t.Errorf("%d tensors, want %d", len(a), len(paramSpecs(cfg, true)))
	}
	check := func(name string, f func(v float32) bool, what string) {
		t.Helper()
		for _, v := range a[name].Data {
			if !f(v) {
				t.Fatalf("%s: value %v is not %s", name, v, what)
			}
		}
	}
	check("embeddings.LayerNorm.weight", func(v float32) bool { return v == 1 }, "1")
	check("encoder.layer.0.output.LayerNorm.bias", func(v float32) bool { return v == 0 }, "0")
	check("encoder.layer.0.attention.self.query.bias", func(v float32) bool { return v == 0 }, "0")
	// The pad row (id 0) of the word table is zero, as in transformers.
	for _, v := range a[wordEmbName].Data[:32] {
		if v != 0 {
			t.Fatal("pad row of the word embeddings is not zero")
		}
	}
	var sum, sq float64
	d := a["encoder.layer.0.intermediate.dense.weight"].Data
	for _, v := range d {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	std := sq/float64(len(d)) - (sum/float64(len(d)))*(sum/float64(len(d)))
	if s := fmt.Sprintf("%.2f", 100*std); s != "0.04" { // std² = 0.0004
		t.Errorf("variance %g, want 0.0004", std)
	}
	dist := RandomWeights(loadTestConfig(t, "tiny-distilbert.json"), 1)
	for name := range dist {
		if strings.HasPrefix(name, "pooler") || strings.Contains(name, "token_type") || strings.HasPrefix(name, "encoder.") {
			t.Errorf("DistilBERT weights hold %s", name)
		}
	}
}
