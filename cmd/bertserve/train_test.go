package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/encoder/npy"
	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/serve"
)

// cliModel builds the tiny random BERT with the real bert-base-uncased
// vocabulary; it skips (or fails under BERTSERVE_REQUIRE_ORT=1) when the
// runtime or the vocabulary is missing.
func cliModel(t *testing.T) string {
	t.Helper()
	return cliModelSeed(t, 5)
}

// cliModelSeed is cliModel with another seed: another digest.
func cliModelSeed(t *testing.T, seed int) string {
	t.Helper()
	vocab := filepath.Join(encoder.CacheDir(), "vocab", "bert-base-uncased", "tokenizer.json")
	_, errLib := encoder.FindLibrary("")
	_, errVocab := os.Stat(vocab)
	if errLib != nil || errVocab != nil {
		if os.Getenv("BERTSERVE_REQUIRE_ORT") == "1" {
			t.Fatalf("run make setup: %v %v", errLib, errVocab)
		}
		t.Skipf("run make setup: %v %v", errLib, errVocab)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := cmdBuildModel([]string{"--config", testConfig(t, "tiny-bert.json"), "--random", "--seed", fmt.Sprint(seed),
		"--tokenizer", vocab, "--out", dir, "--pooling", "mean"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// captureStdout runs f with os.Stdout redirected and returns what it wrote.
func captureStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	ferr := f()
	w.Close()
	os.Stdout = old
	return <-done, ferr
}

// writeSentiment writes a small separable labelled TSV.
func writeSentiment(t *testing.T, path string, n int) {
	t.Helper()
	pos := []string{"great", "wonderful", "superb", "delightful", "excellent"}
	neg := []string{"awful", "terrible", "dreadful", "boring", "horrible"}
	var b strings.Builder
	b.WriteString("sentence\tlabel\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "a %s film , truly %s , take %d\t1\n", pos[i%5], pos[(i+2)%5], i)
		fmt.Fprintf(&b, "a %s film , truly %s , take %d\t0\n", neg[i%5], neg[(i+3)%5], i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTrainPredictEval(t *testing.T) {
	model := cliModel(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "train.tsv")
	writeSentiment(t, data, 40)
	out := filepath.Join(tmp, "head")
	cache := filepath.Join(tmp, "cache")
	args := []string{"--model", model, "--data", data, "--out", out, "--label-names", "0=negative,1=positive",
		"--cache-dir", cache, "--threads", "1", "--weight-decay", "1e-3"}
	if _, err := captureStdout(t, func() error { return cmdTrain(args) }); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{head.MetaFile, head.TensorsFile, head.CurvesJSONFile, head.CurvesPNGFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("the head directory lacks %s: %v", f, err)
		}
	}
	m, err := head.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	meta := m.Meta()
	if got := strings.Join(m.Labels(), ","); got != "negative,positive" {
		t.Fatalf("labels %q", got)
	}
	if meta.Encoder.Digest == "" || meta.Encoder.Pooling != "mean" || meta.Metrics["test"] == nil || meta.Metrics["validation"] == nil {
		t.Fatalf("head.json lacks the encoder or split metrics: %+v", meta.Encoder)
	}

	// A second run on the same data is served from the embedding cache.
	c, err := encoder.OpenCache(cache, encoder.Info{Digest: meta.Encoder.Digest, Pooling: "mean", MaxLength: 512, Dim: 32})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 80 {
		t.Errorf("the cache holds %d embeddings, want 80", c.Len())
	}
	c.Close()

	stdout, err := captureStdout(t, func() error {
		return cmdPredict([]string{"--head", out, "--model", model, "--top-k", "0", "a superb film , truly great", "a boring film , truly awful"})
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("predict printed %q", stdout)
	}
	var first []serve.LabelScore
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].Score < first[1].Score || first[0].Score+first[1].Score < 0.999 {
		t.Fatalf("predict --top-k 0 gave %+v", first)
	}

	stdout, err = captureStdout(t, func() error {
		return cmdEval([]string{"--head", out, "--model", model, "--data", data, "--label-names", "0=negative,1=positive", "--json", "--cache-dir", cache})
	})
	if err != nil {
		t.Fatal(err)
	}
	var mt struct {
		Accuracy  float64     `json:"accuracy"`
		MacroF1   float64     `json:"macro_f1"`
		LogLoss   float64     `json:"log_loss"`
		Confusion [][]int     `json:"confusion"`
		PerClass  []any       `json:"per_class"`
		AUC       *float64    `json:"auc"`
		Extra     interface{} `json:"-"`
	}
	if err := json.Unmarshal([]byte(stdout), &mt); err != nil {
		t.Fatalf("eval --json printed %q: %v", stdout, err)
	}
	if mt.AUC == nil || len(mt.PerClass) != 2 || mt.LogLoss <= 0 {
		t.Fatalf("eval --json = %s", stdout)
	}
}

func TestTrainBadInput(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nanNpy := filepath.Join(tmp, "nan.npy")
	f, _ := os.Create(nanNpy)
	nan := float32(0)
	nan = nan / nan
	npy.Write(f, [][]float32{{1, 2}, {nan, 1}, {0, 1}})
	f.Close()
	okNpy := filepath.Join(tmp, "ok.npy")
	f, _ = os.Create(okNpy)
	npy.Write(f, [][]float32{{1, 2}, {2, 1}, {0, 1}, {1, 1}})
	f.Close()
	labels4 := write("labels4.txt", "a\nb\na\nb\n")
	labels3 := write("labels3.txt", "a\nb\na\n")
	oneClass := write("one.txt", "a\na\na\na\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"--embeddings", okNpy, "--labels", labels4}, "--out"},
		{"nan row", []string{"--embeddings", nanNpy, "--labels", labels3}, "row 2"},
		{"row count", []string{"--embeddings", okNpy, "--labels", labels3}, "must match"},
		{"one class", []string{"--embeddings", okNpy, "--labels", oneClass}, "class"},
		{"bad split", []string{"--embeddings", okNpy, "--labels", labels4, "--split", "50/10"}, "flag -split"},
		{"bad head", []string{"--embeddings", okNpy, "--labels", labels4, "--head", "svm"}, "head"},
		{"missing column", []string{"--data", write("d.tsv", "text\tlabel\nx\t1\ny\t0\n"), "--label-col", "stars"}, `columns found: "text", "label"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(tmp, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			args := tc.args
			if tc.name != "no out" {
				args = append(args, "--out", out)
			}
			_, err := captureStdout(t, func() error { return cmdTrain(args) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("a failed train left %s", out)
			}
		})
	}
}

func TestTrainOnEmbeddings(t *testing.T) {
	tmp := t.TempDir()
	x, y := blobs(120, 8)
	f, _ := os.Create(filepath.Join(tmp, "x.npy"))
	npy.Write(f, x)
	f.Close()
	os.WriteFile(filepath.Join(tmp, "y.txt"), []byte(strings.Join(y, "\n")+"\n"), 0o644)
	out := filepath.Join(tmp, "head")
	_, err := captureStdout(t, func() error {
		return cmdTrain([]string{"--embeddings", filepath.Join(tmp, "x.npy"), "--labels", filepath.Join(tmp, "y.txt"),
			"--out", out, "--head", "mlp", "--hidden", "16", "--epochs", "5"})
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := head.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta().Params.Head == 0 || m.Meta().Encoder.Digest != "" {
		t.Fatalf("meta %+v", m.Meta())
	}
	// The removed embedding-level adapter's flags say why and what to use.
	for _, flag := range [][]string{{"--adapter", "lora"}, {"--rank=2"}, {"-alpha", "4"}} {
		_, err := captureStdout(t, func() error {
			return cmdTrain(append([]string{"--embeddings", filepath.Join(tmp, "x.npy"), "--labels", filepath.Join(tmp, "y.txt"),
				"--out", out}, flag...))
		})
		if err == nil || !strings.Contains(err.Error(), "was removed") || !strings.Contains(err.Error(), "--tune lora") {
			t.Errorf("%v: %v", flag, err)
		}
	}
}

// TestHeadFindsItsEncoder: predict and eval without --model find the
// encoder the head was trained on (by digest in the cache's models, else
// the recorded path), and say what to run when it is gone.
func TestHeadFindsItsEncoder(t *testing.T) {
	model, other := cliModel(t), cliModelSeed(t, 6)
	lib, err := encoder.FindLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ONNXRUNTIME_LIB", lib) // the cache moves below
	tmp := t.TempDir()
	data := filepath.Join(tmp, "train.tsv")
	writeSentiment(t, data, 20)
	out := filepath.Join(tmp, "head")
	if _, err := captureStdout(t, func() error {
		return cmdTrain([]string{"--model", model, "--data", data, "--out", out, "--no-cache", "--threads", "1"})
	}); err != nil {
		t.Fatal(err)
	}
	if e := mustLoad(t, out).Meta().Encoder; e.Path == "" || e.Source == "" {
		t.Fatalf("the head does not record where its encoder is: %+v", e)
	}
	predict := func() (string, error) {
		return captureStdout(t, func() error { return cmdPredict([]string{"--head", out, "--threads", "1", "a superb film"}) })
	}
	evalNoModel := func() error {
		_, err := captureStdout(t, func() error {
			return cmdEval([]string{"--head", out, "--data", data, "--no-cache", "--threads", "1"})
		})
		return err
	}
	t.Setenv("BERTSERVE_CACHE", filepath.Join(tmp, "emptycache"))
	// 1. The recorded path still holds the model.
	if got, err := predict(); err != nil || !strings.HasPrefix(got, "[{\"label\"") {
		t.Fatalf("predict without --model (recorded path): %q, %v", got, err)
	}
	if err := evalNoModel(); err != nil {
		t.Fatalf("eval without --model (recorded path): %v", err)
	}
	// 2. The model moved into the cache's models folder under another name.
	cacheModels := filepath.Join(tmp, "cache", "models")
	if err := os.MkdirAll(cacheModels, 0o755); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(cacheModels, "renamed")
	if err := os.Rename(model, moved); err != nil {
		t.Fatal(err)
	}
	_, err = predict()
	if err == nil || !strings.Contains(err.Error(), "sha256 ") || !strings.Contains(err.Error(), "--model DIR") {
		t.Fatalf("predict with the encoder gone: want an error naming the digest and --model, got %v", err)
	}
	t.Setenv("BERTSERVE_CACHE", filepath.Join(tmp, "cache"))
	if got, err := predict(); err != nil || !strings.HasPrefix(got, "[{\"label\"") {
		t.Fatalf("predict without --model (cache): %q, %v", got, err)
	}
	// 3. --model still overrides (another model is refused by digest).
	_, err = captureStdout(t, func() error { return cmdPredict([]string{"--head", out, "--model", other, "a film"}) })
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("predict --model with another encoder: %v", err)
	}
}

func mustLoad(t *testing.T, dir string) *head.Model {
	t.Helper()
	m, err := head.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
