package split

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/internal/orttest"
	"github.com/bertserve/bertserve/models/safetensors"
	"github.com/bertserve/bertserve/models/uselite"
)

var sentences = []string{
	"a gorgeous , witty , seductive movie .",
	"what a waste of two hours",
	"the film is not funny",
	"",
	"it is a funny and witty film , not a waste",
}

// writeRandomDir makes a model directory with random weights, a small
// WordPiece vocabulary, config.json and model.safetensors.
func writeRandomDir(t *testing.T, config string, seed uint64) string {
	t.Helper()
	cfg, err := models.LoadConfig(filepath.Join("..", "testdata", "configs", config))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	vocab := filepath.Join(t.TempDir(), "vocab.txt")
	words := "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
	seen := map[string]bool{}
	for _, s := range sentences {
		for _, w := range strings.Fields(s) {
			if !seen[w] {
				seen[w] = true
				words += w + "\n"
			}
		}
	}
	if err := os.WriteFile(vocab, []byte(words), 0o644); err != nil {
		t.Fatal(err)
	}
	w := models.RandomWeightsWith(cfg, models.RandomOptions{Seed: seed, Pooler: true, PerturbAll: true})
	if _, err := models.WriteModelDir(dir, models.DirSpec{Config: cfg, Weights: w, Tokenizer: vocab, Pooling: "mean"}); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, models.WeightsFile), w, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// compare embeds texts with the full model.onnx through the encoder and
// with bottom + tail for every trainable layer count, and returns the
// largest difference.
func compare(t *testing.T, dir, pooling string, normalize bool, texts []string) float64 {
	t.Helper()
	enc, err := encoder.Open(encoder.Options{ModelDir: dir, Pooling: pooling, Normalize: normalize, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	want, err := enc.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	info := enc.Info()
	tok := enc.Tokenizer()
	worst := 0.0
	for n := 1; n <= m.MaxTrainable; n++ {
		k, err := m.SplitLayer(n)
		if err != nil {
			t.Fatal(err)
		}
		bm, err := m.Bottom(k)
		if err != nil {
			t.Fatal(err)
		}
		bottom, err := bm.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		tail, err := m.Tail(k, info.Pooling, normalize)
		if err != nil {
			t.Fatal(err)
		}
		tm, err := models.BuildTail(tail, models.TailGraphOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tb, err := tm.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for i, text := range texts {
			e := tok.Encode(text, info.MaxLength)
			T := int64(len(e.IDs))
			mask := make([]int64, T)
			for j := range mask {
				mask[j] = 1
			}
			shape := []int64{1, T}
			in := []orttest.Input{{Name: models.InputIDs, Shape: shape, Int64: e.IDs}, {Name: models.InputMask, Shape: shape, Int64: mask}}
			if m.NeedsTypeIDs() {
				types := e.TypeIDs
				if types == nil {
					types = make([]int64, T)
				}
				in = append(in, orttest.Input{Name: models.InputTypeIDs, Shape: shape, Int64: types})
			}
			hk := orttest.Run(t, bottom, in, []string{models.OutputBottom}, nil)[models.OutputBottom]
			got := orttest.Run(t, tb, []orttest.Input{
				{Name: models.TailInputHidden, Shape: hk.Shape, Float32: hk.Data},
				{Name: models.TailInputMask, Shape: shape, Int64: mask},
			}, []string{models.TailOutput}, nil)[models.TailOutput].Data
			for j, x := range want.Vectors[i] {
				worst = max(worst, math.Abs(float64(x)-float64(got[j])))
			}
		}
	}
	return worst
}

func TestRandomModelsSplit(t *testing.T) {
	orttest.Require(t)
	for i, tc := range []struct {
		config, pooling string
		normalize       bool
	}{
		{"tiny-bert.json", "mean", true},
		{"tiny-bert.json", "pooler", false},
		{"tiny-roberta.json", "cls", false},
		{"tiny-distilbert.json", "mean", false},
	} {
		dir := writeRandomDir(t, tc.config, uint64(20+i))
		d := compare(t, dir, tc.pooling, tc.normalize, sentences)
		if d > 1e-5 {
			t.Errorf("%s, pooling %s: bottom + tail differ from model.onnx by %.3g", tc.config, tc.pooling, d)
		}
		t.Logf("%s pooling %s normalize %v: largest difference %.3g", tc.config, tc.pooling, tc.normalize, d)
	}
}

// TestRealModelsSplit checks real weights: the default model in the cache
// and the model directories in $BERTSERVE_SPLIT_MODELS (separated by
// ':'), when they are there.
func TestRealModelsSplit(t *testing.T) {
	orttest.Require(t)
	dirs := []string{filepath.Join(encoder.CacheDir(), "models", "default")}
	if env := os.Getenv("BERTSERVE_SPLIT_MODELS"); env != "" {
		dirs = append(dirs, strings.Split(env, ":")...)
	}
	texts := append([]string{
		"it 's a charming and often affecting journey .",
		"unflinchingly bleak and desperate",
		"the story is familiar , but the performances are superb and the direction is assured from start to finish",
		"这部电影真的很好看，演员的表演非常出色。",
	}, sentences...)
	ran := 0
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, models.ModelFile)); err != nil {
			continue
		}
		if _, err := Open(dir); err != nil {
			t.Logf("%s: cannot be split (%v)", dir, err)
			continue
		}
		normalize := false
		if man, err := models.ReadManifest(dir); err == nil {
			normalize = man.Normalize
		}
		if _, err := uselite.ReadManifest(dir); err == nil {
			normalize = false // the graph normalises itself
		}
		ran++
		d := compare(t, dir, "auto", normalize, texts)
		if d > 1e-5 {
			t.Errorf("%s: bottom + tail differ from model.onnx by %.3g", dir, d)
		}
		t.Logf("%s: largest difference over %d texts and every split: %.3g", dir, len(texts), d)
	}
	if ran == 0 {
		t.Skip("no real model directory with weights (run `bertserve pull default`, or set BERTSERVE_SPLIT_MODELS)")
	}
}

func TestOpenErrors(t *testing.T) {
	orttest.Require(t)
	dir := writeRandomDir(t, "tiny-bert.json", 1)
	m, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.SplitLayer(3); err == nil || !strings.Contains(err.Error(), "--layers must be 1..2") {
		t.Errorf("SplitLayer(3) of a 2-layer model: %v", err)
	}
	if _, err := m.Tail(0, "max", false); err == nil || !strings.Contains(err.Error(), "--pooling cls") {
		t.Errorf("max pooling: %v", err)
	}
	// An int8 model's layers are trained on its float32 source.
	man, err := models.ReadManifest(dir) // writeRandomDir rewrote the weights
	if err != nil {
		t.Fatal(err)
	}
	if man.Files[models.WeightsFile], err = models.FileSHA256(filepath.Join(dir, models.WeightsFile)); err != nil {
		t.Fatal(err)
	}
	if err := models.WriteManifest(dir, man); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(t.TempDir(), "int8")
	if _, err := models.QuantizeDir(dir, q, models.QuantizeOptions{DType: models.DTypeInt8, Calibration: [][]int64{{101, 2000, 3000, 102}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(q); err == nil || !strings.Contains(err.Error(), "is an int8 model") {
		t.Errorf("int8 model: %v", err)
	}
	os.Remove(filepath.Join(dir, models.WeightsFile))
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "has no model.safetensors") {
		t.Errorf("without weights: %v", err)
	}
}
