package hub

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/internal/orttest"
)

// runEncoder runs a BERT encoder graph on one sequence and returns its
// last_hidden_state.
func runEncoder(t *testing.T, model []byte, ids []int64) []float32 {
	t.Helper()
	n := int64(len(ids))
	mask := make([]int64, n)
	for i := range mask {
		mask[i] = 1
	}
	out := orttest.Run(t, model, []orttest.Input{
		{Name: models.InputIDs, Shape: []int64{1, n}, Int64: ids},
		{Name: models.InputMask, Shape: []int64{1, n}, Int64: mask},
		{Name: models.InputTypeIDs, Shape: []int64{1, n}, Int64: make([]int64, n)},
	}, []string{models.OutputHidden}, nil)
	return out[models.OutputHidden].Data
}

// checkSameOutputs requires the pulled model to compute what the builder
// computes from the weights the fake hub served.
func checkSameOutputs(t *testing.T, dir string, cfg *models.Config, w models.Weights, ids []int64) {
	t.Helper()
	orttest.Require(t)
	want, err := models.BuildONNX(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	got := runEncoder(t, must(os.ReadFile(filepath.Join(dir, models.ModelFile))), ids)
	ref := runEncoder(t, want, ids)
	if len(got) != len(ids)*cfg.HiddenSize || len(got) != len(ref) {
		t.Fatalf("output has %d values, want %d", len(got), len(ids)*cfg.HiddenSize)
	}
	for i := range got {
		if math.IsNaN(float64(got[i])) || math.Abs(float64(got[i]-ref[i])) > 1e-5 {
			t.Fatalf("value %d: pulled model gives %v, the weights give %v", i, got[i], ref[i])
		}
	}
}

func TestPullImportsSafetensors(t *testing.T) {
	t.Parallel()
	cfg, w := tinyBERT(t, 7)
	for _, tc := range []struct {
		name  string
		files map[string][]byte
	}{
		{"single file", bertRepoFiles(t, w)},
		{"three shards", shardedRepoFiles(t, w, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t)
			repo := h.add("acme/tiny-bert", tc.files)
			repo.license = "apache-2.0"
			parent := t.TempDir()
			dir, err := Pull(context.Background(), "acme/tiny-bert", testOptions(h, filepath.Join(parent, "m")))
			if err != nil {
				t.Fatal(err)
			}
			m, err := models.ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Verify(dir); err != nil {
				t.Error(err)
			}
			if want := "hf:acme/tiny-bert@" + repo.commit + " via " + h.url; m.Source != want {
				t.Errorf("manifest source %q, want %q", m.Source, want)
			}
			if m.Name != "acme/tiny-bert" || m.License != "apache-2.0" || m.Dim != tinyHidden || m.Architecture != "bert" || m.Tokenizer != "vocab.txt" {
				t.Errorf("manifest %+v", m)
			}
			if names := entries(t, parent); len(names) != 1 || names[0] != "m" {
				t.Errorf("parent holds %v, want only the model directory", names)
			}
			t.Run("runs in ONNX Runtime", func(t *testing.T) {
				checkSameOutputs(t, dir, cfg, w, []int64{2, 5, 6, 7, 8, 13, 3})
			})
		})
	}
}

// TestPullBertBaseChineseLayout pulls a repo laid out like
// google-bert/bert-base-chinese (its real tokenizer files from
// ../shared/vocab, config with the real vocabulary but a tiny width, and
// BertForMaskedLM weights whose cls.* head tensors the importer must
// ignore), then tokenizes a ChnSentiCorp review with the pulled
// tokenizer and runs the pulled model on it.
func TestPullBertBaseChineseLayout(t *testing.T) {
	t.Parallel()
	vocabDir := filepath.Join("..", "..", "..", "shared", "vocab", "bert-base-chinese")
	if _, err := os.Stat(vocabDir); err != nil {
		t.Skipf("the real bert-base-chinese tokenizer files are not at %s: %v", vocabDir, err)
	}
	cfgJSON := []byte(`{"architectures":["BertForMaskedLM"],"model_type":"bert","hidden_size":16,"num_hidden_layers":2,
		"num_attention_heads":2,"intermediate_size":32,"hidden_act":"gelu","max_position_embeddings":512,
		"type_vocab_size":2,"vocab_size":21128,"layer_norm_eps":1e-12,"pad_token_id":0,"initializer_range":0.02}`)
	cfg, err := models.ParseConfig(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	w := models.Weights{}
	for name, tensor := range models.RandomWeights(cfg, 3) {
		w["bert."+name] = tensor
	}
	w["cls.predictions.bias"] = models.RandomWeights(cfg, 4)["embeddings.word_embeddings.weight"] // any tensor: an MLM head the encoder does not use
	files := map[string][]byte{
		"config.json":        cfgJSON,
		"model.safetensors":  safetensorsBytes(t, w),
		"pytorch_model.bin":  []byte("pickle"),
		"flax_model.msgpack": []byte("flax"),
	}
	for _, f := range []string{"vocab.txt", "tokenizer.json", "tokenizer_config.json"} {
		files[f] = must(os.ReadFile(filepath.Join(vocabDir, f)))
	}
	h := newFakeHub(t)
	h.add("google-bert/bert-base-chinese", files).license = "apache-2.0"
	dir, err := Pull(context.Background(), "google-bert/bert-base-chinese", testOptions(h, filepath.Join(t.TempDir(), "bert-base-chinese")))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := encoder.LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	review := "选择珠江花园的原因就是方便，有电动扶梯直接到达海边。"
	if data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "data", "chnsenticorp", "dev.tsv")); err == nil {
		lines := strings.Split(string(data), "\n")
		if len(lines) > 1 {
			if _, text, ok := strings.Cut(lines[1], "\t"); ok {
				review = text
			}
		}
	}
	enc := tok.Encode(review, 64)
	if len(enc.IDs) < 3 || enc.IDs[0] != 101 || enc.IDs[len(enc.IDs)-1] != 102 {
		t.Fatalf("pulled tokenizer gives %v for %q, want [CLS]=101 ... [SEP]=102", enc.IDs, review)
	}
	checkSameOutputs(t, dir, cfg, w, enc.IDs)
}

// TestPullRecoversWeightsFromAnONNXOnlyRepo pulls a repo that ships only
// an ONNX export of a BERT (torch's opset-11 export of a tiny BERT, as
// optimum and Xenova publish them): the model directory gets the
// recovered weights as model.safetensors and a model.onnx written by the
// builder, so heads can train inside the encoder, and the graph computes
// what those weights compute. An export the recovery does not know is
// used as it is (the other ONNX tests).
func TestPullRecoversWeightsFromAnONNXOnlyRepo(t *testing.T) {
	t.Parallel()
	export := must(os.ReadFile(filepath.Join("..", "testdata", "onnx", "tiny-bert-opset11.onnx")))
	var vocab strings.Builder
	vocab.WriteString("[PAD]\n")
	for i := 1; i < 64; i++ {
		vocab.WriteString("tok" + strconv.Itoa(i) + "\n")
	}
	h := newFakeHub(t)
	h.add("acme/onnx-only", map[string][]byte{
		"onnx/model.onnx":       export,
		"vocab.txt":             []byte(vocab.String()),
		"tokenizer_config.json": []byte(`{"model_max_length": 24}`),
	}).license = "apache-2.0"
	dir, err := Pull(context.Background(), "acme/onnx-only", testOptions(h, filepath.Join(t.TempDir(), "m")))
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{models.ModelFile, models.WeightsFile, models.ConfigFile, "vocab.txt"} {
		if m.Files[f] == "" {
			t.Errorf("manifest files %v lack %s", m.Files, f)
		}
	}
	if bytes.Equal(must(os.ReadFile(filepath.Join(dir, models.ModelFile))), export) {
		t.Error("model.onnx is the export itself, not the builder's graph")
	}
	if !strings.HasPrefix(m.Source, "hf:acme/onnx-only@") || m.License != "apache-2.0" {
		t.Errorf("manifest source %q license %q", m.Source, m.License)
	}
	cfg, err := models.LoadConfig(filepath.Join(dir, models.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	w, err := models.ReadHFWeights(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("runs in ONNX Runtime", func(t *testing.T) {
		checkSameOutputs(t, dir, cfg, w, []int64{2, 5, 6, 7, 8, 13, 3})
	})
}
