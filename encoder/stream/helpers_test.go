package stream_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/encoder/npy"
	"github.com/bertserve/bertserve/models"
)

var (
	tinyOnce sync.Once
	tinyDir  string
	tinyErr  error
)

// tinyModel writes a 2-layer BERT with seeded random weights and the real
// bert-base-uncased vocabulary, once per test binary. It skips without
// ONNX Runtime or the vocabulary (fails under BERTSERVE_REQUIRE_ORT=1).
func tinyModel(t testing.TB) string {
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
	tinyOnce.Do(func() {
		if tinyDir, tinyErr = os.MkdirTemp("", "bertserve-stream-test-"); tinyErr != nil {
			return
		}
		cfgPath := filepath.Join("..", "..", "models", "testdata", "configs", "tiny-bert.json")
		cfg, err := models.LoadConfig(cfgPath)
		if err != nil {
			tinyErr = err
			return
		}
		onnx, err := models.BuildONNX(cfg, models.RandomWeights(cfg, 11))
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

func openTiny(t testing.TB, pooling string) *encoder.Encoder {
	t.Helper()
	e, err := encoder.Open(encoder.Options{ModelDir: tinyModel(t), Pooling: pooling, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// phrases returns n texts of varied length (so batches differ by chunk).
func phrases(n int) []string {
	words := []string{"a", "gripping", "film", "it's", "bad", "the", "acting", "is", "wooden", "plot", "café", "naïve", "北京", "!", "ending"}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for k := 0; k < 1+(i*7)%23; k++ {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[(i+k*3)%len(words)])
		}
		out[i] = b.String()
	}
	return out
}

// writeTSV writes texts as a sentence/label TSV corpus.
func writeTSV(t testing.TB, path string, texts []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("sentence\tlabel\n")
	for i, s := range texts {
		fmt.Fprintf(&b, "%s\t%d\n", s, i%2)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wholeNPY embeds texts in memory (Embed) and returns the .npy bytes.
func wholeNPY(t testing.TB, e *encoder.Encoder, texts []string) []byte {
	t.Helper()
	r, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := npy.Write(&b, r.Vectors); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
