package encoder_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
)

// requireRuntime skips when ONNX Runtime or the vocabulary is missing,
// unless BERTSERVE_REQUIRE_ORT=1 (CI), where it fails instead.
func requireRuntime(t testing.TB) string {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("BERTSERVE_REQUIRE_ORT") == "1" {
		fail = t.Fatalf
	}
	if _, err := encoder.FindLibrary(""); err != nil {
		fail("%v", err)
	}
	vocab := filepath.Join(encoder.CacheDir(), "vocab", "bert-base-uncased", "tokenizer.json")
	if _, err := os.Stat(vocab); err != nil {
		fail("no bert-base-uncased tokenizer.json (run `make setup`): %v", err)
	}
	return vocab
}

var (
	tinyOnce sync.Once
	tinyDir  string
	tinyErr  error
)

// tinyModel writes a 2-layer BERT with seeded random weights and the real
// bert-base-uncased vocabulary into a directory shared by the tests.
func tinyModel(t testing.TB) string {
	vocab := requireRuntime(t)
	tinyOnce.Do(func() {
		tinyDir, tinyErr = os.MkdirTemp("", "bertserve-encoder-test-")
		if tinyErr != nil {
			return
		}
		cfgPath := filepath.Join("..", "models", "testdata", "configs", "tiny-bert.json")
		cfg, err := models.LoadConfig(cfgPath)
		if err != nil {
			tinyErr = err
			return
		}
		onnx, err := models.BuildONNX(cfg, models.RandomWeights(cfg, 7))
		if err != nil {
			tinyErr = err
			return
		}
		tok, err := os.ReadFile(vocab)
		if err != nil {
			tinyErr = err
			return
		}
		cfgJSON, _ := os.ReadFile(cfgPath)
		for name, data := range map[string][]byte{"model.onnx": onnx, "tokenizer.json": tok, "config.json": cfgJSON} {
			if tinyErr = os.WriteFile(filepath.Join(tinyDir, name), data, 0o644); tinyErr != nil {
				return
			}
		}
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyDir
}

func open(t testing.TB, opts encoder.Options) *encoder.Encoder {
	t.Helper()
	if opts.ModelDir == "" {
		opts.ModelDir = tinyModel(t)
	}
	if opts.Threads == 0 {
		opts.Threads = 1
	}
	e, err := encoder.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

var sentences = []string{
	"a gripping, funny and touching film",
	"",
	"it's a bad movie.",
	"the acting is wooden , the plot predictable , and the ending drags on far longer than anyone could want .",
	"Crème brûlée — naïve café ☕",
	"ok",
	"北京欢迎你 mixed with English",
	"bad \xff\xfe utf8",
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func TestEmbeddingDoesNotDependOnBatchMates(t *testing.T) {
	for _, pooling := range []string{"cls", "mean", "max", "pooler"} {
		t.Run(pooling, func(t *testing.T) {
			e := open(t, encoder.Options{Pooling: pooling})
			all, err := e.Embed(context.Background(), sentences)
			if err != nil {
				t.Fatal(err)
			}
			if len(all.Vectors) != len(sentences) {
				t.Fatalf("%d vectors for %d texts", len(all.Vectors), len(sentences))
			}
			for i, s := range sentences {
				one, err := e.Embed(context.Background(), []string{s})
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(one.Vectors[0], all.Vectors[i]); d > 1e-5 {
					t.Errorf("text %d: alone vs in a batch differ by %g", i, d)
				}
			}
		})
	}
}

func TestBatchBudgetDoesNotChangeResults(t *testing.T) {
	big := open(t, encoder.Options{Pooling: "mean"})
	small := open(t, encoder.Options{Pooling: "mean", BatchTokens: 16, MaxBatch: 2})
	a, err := big.Embed(context.Background(), sentences)
	if err != nil {
		t.Fatal(err)
	}
	b, err := small.Embed(context.Background(), sentences)
	if err != nil {
		t.Fatal(err)
	}
	if b.Batches <= a.Batches {
		t.Fatalf("a budget of 16 tokens made %d batches, the default %d", b.Batches, a.Batches)
	}
	for i := range sentences {
		if d := maxAbsDiff(a.Vectors[i], b.Vectors[i]); d > 1e-5 {
			t.Errorf("text %d differs by %g between batch budgets", i, d)
		}
	}
}

func TestTruncationInvalidUTF8AndEmpty(t *testing.T) {
	e := open(t, encoder.Options{MaxLength: 8})
	long := strings.Repeat("word ", 50)
	r, err := e.Embed(context.Background(), []string{long, "", "bad \xff byte", "short"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated != 1 || r.InvalidUTF8 != 1 {
		t.Errorf("truncated %d, invalid UTF-8 %d; want 1 and 1", r.Truncated, r.InvalidUTF8)
	}
	if r.TokenCounts[0] != 8 {
		t.Errorf("truncated text has %d tokens, want 8", r.TokenCounts[0])
	}
	if r.TokenCounts[1] != 2 {
		t.Errorf("the empty string has %d tokens, want 2 ([CLS] [SEP])", r.TokenCounts[1])
	}
	if e.Info().MaxLength != 8 {
		t.Errorf("Info().MaxLength = %d", e.Info().MaxLength)
	}
}

func TestNormalizeAndInfo(t *testing.T) {
	e := open(t, encoder.Options{Pooling: "mean", Normalize: true})
	info := e.Info()
	if info.Dim != 32 || info.Pooling != "mean" || len(info.Digest) != 64 || info.Device != "cpu" || info.MaxLength != 512 {
		t.Fatalf("info = %+v", info)
	}
	r, err := e.Embed(context.Background(), sentences)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range r.Vectors {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("vector %d has squared norm %g", i, s)
		}
	}
	if auto := open(t, encoder.Options{}); auto.Info().Pooling != "pooler" {
		t.Errorf("auto pooling on a BERT graph with pooler_output chose %q", auto.Info().Pooling)
	}
}

// A model whose manifest says "normalize": true (sentence-transformers'
// Normalize module) gives unit vectors without Options.Normalize.
func TestManifestNormalize(t *testing.T) {
	src := tinyModel(t)
	dir := t.TempDir()
	for _, f := range []string{"model.onnx", "tokenizer.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bertserve.json"), []byte(`{"name":"st","pooling":"mean","normalize":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e := open(t, encoder.Options{ModelDir: dir})
	if !e.Info().Normalize || e.Info().Pooling != "mean" {
		t.Fatalf("info = %+v, want mean pooling, normalized", e.Info())
	}
	r, err := e.Embed(context.Background(), sentences)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range r.Vectors {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("vector %d has squared norm %g, want 1", i, s)
		}
	}
}

func TestConcurrentEmbed(t *testing.T) {
	e := open(t, encoder.Options{Pooling: "cls", Threads: 2})
	want, err := e.Embed(context.Background(), sentences)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			i := g % len(sentences)
			texts := []string{sentences[i], sentences[(i+3)%len(sentences)]}
			r, err := e.Embed(context.Background(), texts)
			if err != nil {
				errs <- err
				return
			}
			if d := maxAbsDiff(r.Vectors[0], want.Vectors[i]); d > 1e-5 {
				t.Errorf("goroutine %d got a vector off by %g", g, d)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestEmbedChunksKeepsOrderAcrossChunks(t *testing.T) {
	e := open(t, encoder.Options{Pooling: "cls"})
	texts := make([]string, 5000)
	for i := range texts {
		texts[i] = sentences[i%len(sentences)] + strings.Repeat(" x", i%7)
	}
	next := 0
	err := e.EmbedChunks(context.Background(), texts, func(start int, r *encoder.Result) error {
		if start != next {
			t.Fatalf("chunk starts at %d, want %d", start, next)
		}
		next += len(r.Vectors)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next != len(texts) {
		t.Fatalf("delivered %d rows of %d", next, len(texts))
	}
	one, _ := e.Embed(context.Background(), texts[4321:4322])
	all, _ := e.Embed(context.Background(), texts)
	if d := maxAbsDiff(one.Vectors[0], all.Vectors[4321]); d > 1e-5 {
		t.Fatalf("row 4321 differs by %g", d)
	}
}

func TestEmbedCached(t *testing.T) {
	e := open(t, encoder.Options{Pooling: "cls"})
	c, err := encoder.OpenCache(t.TempDir(), e.Info())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, err := e.EmbedCached(context.Background(), sentences, c)
	if err != nil {
		t.Fatal(err)
	}
	if first.Hits != 0 {
		t.Fatalf("a cold cache had %d hits", first.Hits)
	}
	second, err := e.EmbedCached(context.Background(), append([]string{sentences[2]}, sentences...), c)
	if err != nil {
		t.Fatal(err)
	}
	if second.Hits != len(sentences)+1 || second.Batches != 0 {
		t.Fatalf("a warm cache: %d hits, %d batches", second.Hits, second.Batches)
	}
	for i := range sentences {
		if d := maxAbsDiff(first.Vectors[i], second.Vectors[i+1]); d != 0 {
			t.Fatalf("cached vector %d differs by %g", i, d)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := tinyModel(t)
	tests := []struct {
		name string
		opts encoder.Options
		want string
	}{
		{"no model", encoder.Options{}, "no model directory"},
		{"missing dir", encoder.Options{ModelDir: filepath.Join(t.TempDir(), "nope")}, "model.onnx"},
		{"bad pooling", encoder.Options{ModelDir: dir, Pooling: "median"}, "unknown pooling"},
		{"bad device", encoder.Options{ModelDir: dir, Device: "tpu"}, "bad --device"},
		{"cuda without provider", encoder.Options{ModelDir: dir, Device: "cuda"}, "CUDA"},
		{"too long", encoder.Options{ModelDir: dir, MaxLength: 4096}, "exceeds the model's limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := encoder.Open(tc.opts)
			if err == nil {
				e.Close()
				if tc.name == "cuda without provider" {
					t.Skip("this ONNX Runtime library has a working CUDA provider")
				}
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	if e, err := encoder.Open(encoder.Options{ModelDir: dir, Device: "auto", Threads: 1}); err != nil {
		t.Fatalf("--device auto must fall back to CPU: %v", err)
	} else {
		e.Close()
	}
}
