package models

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bertserve/bertserve/models/internal/orttest"
	"github.com/bertserve/bertserve/models/onnx"
	"github.com/bertserve/bertserve/models/safetensors"
)

// The fixtures in testdata/onnx are torch.onnx exports of one tiny
// transformers BertModel with random weights (scripts/onnx_fixtures.py):
// the TorchScript exporter at opset 11 as Xenova/optimum exports are made
// (with and without constant folding) and the torch.export-based exporter
// at opset 18.
var onnxFixtures = []string{"tiny-bert-opset11.onnx", "tiny-bert-opset11-nofold.onnx", "tiny-bert-dynamo.onnx"}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "onnx", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRecoverONNXTorchExports(t *testing.T) {
	t.Parallel()
	st, err := safetensors.ReadFile(filepath.Join("testdata", "onnx", "tiny-bert.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		ModelType: "bert", Architectures: []string{"BertModel"}, HiddenSize: 16, NumLayers: 2, NumHeads: 4,
		IntermediateSize: 32, VocabSize: 64, MaxPositions: 32, TypeVocabSize: 2, LayerNormEps: 1e-12,
		HiddenAct: "gelu", InitializerRange: 0.02,
	}
	for _, name := range onnxFixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := RecoverONNX(readFixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Config, want) {
				t.Errorf("config\n%+v\nwant\n%+v", *r.Config, *want)
			}
			// Every parameter of the BertModel, bit for bit, under its
			// Hugging Face name and in PyTorch's layout.
			if len(r.Weights) != len(st.Tensors) {
				t.Errorf("recovered %d tensors, the model has %d", len(r.Weights), len(st.Tensors))
			}
			for n, w := range st.Tensors {
				got, ok := r.Weights[n]
				if !ok {
					t.Errorf("%s not recovered", n)
					continue
				}
				if !slices.Equal(got.Shape, w.Shape) || !slices.Equal(got.Data, w.Data) {
					t.Errorf("%s: shape %v, want %v, or different values", n, got.Shape, w.Shape)
				}
			}
			if len(r.Notes) != 0 {
				t.Errorf("notes %q", r.Notes)
			}
		})
	}
}

// A graph bertserve built is recovered exactly too (LayerNormalization,
// Slice of the position table, pre-transposed weights).
func TestRecoverONNXOwnGraphs(t *testing.T) {
	t.Parallel()
	relu := loadTestConfig(t, "tiny-bert.json")
	relu.HiddenAct, relu.LayerNormEps = "relu", 1e-5
	for _, tc := range []struct {
		name string
		cfg  *Config
	}{
		{"gelu", loadTestConfig(t, "tiny-bert.json")},
		{"gelu_new", loadTestConfig(t, "tiny-bert-gelu-new.json")},
		{"relu eps 1e-5", relu},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := RandomWeights(tc.cfg, 3)
			data, err := BuildONNX(tc.cfg, w)
			if err != nil {
				t.Fatal(err)
			}
			r, err := RecoverONNX(data)
			if err != nil {
				t.Fatal(err)
			}
			c := *r.Config
			if c.HiddenAct != tc.cfg.HiddenAct || c.LayerNormEps != tc.cfg.LayerNormEps || c.NumHeads != tc.cfg.NumHeads ||
				c.NumLayers != tc.cfg.NumLayers || c.IntermediateSize != tc.cfg.IntermediateSize || c.VocabSize != tc.cfg.VocabSize {
				t.Errorf("config %+v, want %+v", c, *tc.cfg)
			}
			for n, want := range w {
				got := r.Weights[n]
				if !slices.Equal(got.Data, want.Data) || !slices.Equal(got.Shape, want.Shape) {
					t.Errorf("%s differs", n)
				}
			}
		})
	}
}

var (
	mutateOnce    sync.Once
	mutateWeights Weights
)

// mutate builds the tiny BERT and lets edit change its graph before it is
// encoded.
func mutate(t testing.TB, edit func(g *onnx.Graph)) []byte {
	t.Helper()
	cfg := loadTestConfig(t, "tiny-bert.json")
	mutateOnce.Do(func() { mutateWeights = RandomWeights(cfg, 1) })
	b, err := Build(cfg, mutateWeights)
	if err != nil {
		t.Fatal(err)
	}
	edit(b.Model.Graph)
	data, err := b.Model.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func firstNode(g *onnx.Graph, op string) *onnx.Node {
	for _, n := range g.Nodes {
		if n.OpType == op {
			return n
		}
	}
	return nil
}

func TestRecoverONNXErrors(t *testing.T) {
	t.Parallel()
	roberta := loadTestConfig(t, "tiny-roberta.json")
	robertaONNX, err := BuildONNX(roberta, RandomWeights(roberta, 1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"garbage", []byte("not an onnx file"), "decoding ONNX model"},
		{"roberta positions", robertaONNX, "RoBERTa-style export"},
		{"quantized", mutate(t, func(g *onnx.Graph) { firstNode(g, "MatMul").OpType = "MatMulInteger" }), "quantized (MatMulInteger)"},
		{"fused", mutate(t, func(g *onnx.Graph) {
			n := firstNode(g, "LayerNormalization")
			n.OpType, n.Domain = "SkipLayerNormalization", "com.microsoft"
		}), "fused ONNX Runtime operators (SkipLayerNormalization)"},
		{"no mask input", mutate(t, func(g *onnx.Graph) {
			for i := range g.Inputs {
				if g.Inputs[i].Name == InputMask {
					g.Inputs[i].Name = "mask"
				}
			}
			for _, n := range g.Nodes {
				for j, in := range n.Inputs {
					if in == InputMask {
						n.Inputs[j] = "mask"
					}
				}
			}
		}), "no attention_mask input"},
		{"wrong attention scale", mutate(t, func(g *onnx.Graph) {
			n := firstNode(g, "Div")
			for _, m := range g.Nodes {
				if m.OpType == "Div" && len(m.Inputs) == 2 && strings.Contains(m.Inputs[0], "MatMul") {
					n = m
					break
				}
			}
			n.Inputs[1] = g.ScalarFloat(3)
		}), "scaled by 0.333333, want 1/√8"},
		{"sigmoid activation", mutate(t, func(g *onnx.Graph) {
			for _, n := range g.Nodes {
				if n.OpType == "Erf" {
					n.OpType = "Sigmoid"
				}
			}
		}), "Sigmoid"},
		{"no word embedding", mutate(t, func(g *onnx.Graph) {
			for _, n := range g.Nodes {
				if n.OpType == "Gather" && len(n.Inputs) == 2 && n.Inputs[1] == InputIDs {
					n.OpType = "Add"
				}
			}
		}), "no Gather of an embedding table by input_ids"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := RecoverONNX(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// ImportONNX writes a model directory whose safetensors hold the
// export's weights and whose rebuilt graph computes what the export does.
func TestImportONNX(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	onnxPath := filepath.Join(src, "onnx", "model.onnx")
	data := readFixture(t, "tiny-bert-opset11.onnx")
	writeFile(t, onnxPath, string(data))
	var vocab strings.Builder
	vocab.WriteString("[PAD]\n")
	for i := 1; i < 64; i++ {
		fmt.Fprintf(&vocab, "tok%d\n", i)
	}
	writeFile(t, filepath.Join(src, VocabFile), vocab.String())
	writeFile(t, filepath.Join(src, "tokenizer_config.json"), `{"model_max_length": 24}`)
	out := filepath.Join(t.TempDir(), "model")
	m, rec, err := ImportONNX(onnxPath, out, ONNXImportOptions{Pooling: "cls", Normalize: true, License: "mit"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(out); err != nil {
		t.Fatal(err)
	}
	if m.Name != "model" || !strings.HasPrefix(m.Source, "onnx:/") || m.Pooling != "cls" || !m.Normalize || m.MaxLength != 24 || m.Tokenizer != VocabFile {
		t.Errorf("manifest %+v", m)
	}
	for _, f := range []string{ModelFile, WeightsFile, ConfigFile, VocabFile, "tokenizer_config.json"} {
		if m.Files[f] == "" {
			t.Errorf("manifest files %v lack %s", m.Files, f)
		}
	}
	cfg, err := LoadConfig(filepath.Join(out, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, rec.Config) {
		t.Errorf("config.json %+v, recovered %+v", *cfg, *rec.Config)
	}
	st, err := safetensors.ReadFile(filepath.Join(out, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.Tensors, rec.Weights) {
		t.Error("model.safetensors differs from the recovered weights")
	}

	t.Run("rebuilt graph matches the export in ONNX Runtime", func(t *testing.T) {
		orttest.Require(t)
		rebuilt, err := os.ReadFile(filepath.Join(out, ModelFile))
		if err != nil {
			t.Fatal(err)
		}
		ids := []int64{2, 7, 8, 9, 3, 0, 2, 11, 3, 0, 0, 0}
		mask := []int64{1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0}
		types := []int64{0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0}
		in := []orttest.Input{
			{Name: InputIDs, Shape: []int64{2, 6}, Int64: ids},
			{Name: InputMask, Shape: []int64{2, 6}, Int64: mask},
			{Name: InputTypeIDs, Shape: []int64{2, 6}, Int64: types},
		}
		outs := []string{OutputHidden, OutputPooler}
		a := orttest.Run(t, data, in, outs, nil)
		b := orttest.Run(t, rebuilt, in, outs, nil)
		for _, o := range outs {
			d := 0.0
			for i := range a[o].Data {
				if o == OutputHidden && mask[i/16] == 0 {
					continue
				}
				d = math.Max(d, math.Abs(float64(a[o].Data[i]-b[o].Data[i])))
			}
			if d > 1e-5 {
				t.Errorf("%s differs by %g", o, d)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		if _, _, err := ImportONNX(filepath.Join(src, "missing.onnx"), t.TempDir(), ONNXImportOptions{}); err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("missing file: %v", err)
		}
		lone := filepath.Join(t.TempDir(), "a", "model.onnx")
		writeFile(t, lone, string(data))
		if _, _, err := ImportONNX(lone, t.TempDir(), ONNXImportOptions{}); err == nil || !strings.Contains(err.Error(), "--tokenizer") {
			t.Errorf("no tokenizer: %v", err)
		}
		bad := filepath.Join(filepath.Dir(lone), ConfigFile)
		writeFile(t, bad, `{"model_type":"bert","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":32,"vocab_size":64,"max_position_embeddings":32}`)
		_, _, err := ImportONNX(lone, t.TempDir(), ONNXImportOptions{Tokenizer: filepath.Join(src, VocabFile)})
		if err == nil || !strings.Contains(err.Error(), "hidden_size 64 (the graph has 16)") {
			t.Errorf("mismatching config.json: %v", err)
		}
	})
}

func FuzzRecoverONNX(f *testing.F) {
	f.Add(readFixture(f, "tiny-bert-opset11.onnx"))
	f.Add([]byte{0x08, 0x06, 0x3a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := RecoverONNX(data)
		if err == nil && r.Config.Validate() != nil {
			t.Fatalf("recovered an invalid config %+v", *r.Config)
		}
	})
}
