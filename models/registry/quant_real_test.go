package registry

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/encoder/corpus"
	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/internal/orttest"
)

// quantSentences is how many real sentences the int8 accuracy bar is
// checked on (issue 11: cosine ≥ 0.99 on every row of 1,000).
const quantSentences = 1000

// TestQuantizeRealModels quantizes the pulled all-MiniLM-L6-v2 and
// bge-small-zh-v1.5 to int8, calibrated on 256 training sentences, and
// checks on 1,000 test sentences of the language each model is for that
// every int8 embedding has cosine ≥ 0.99 with its float32 embedding.
func TestQuantizeRealModels(t *testing.T) {
	if testing.Short() {
		t.Skip("embeds 1,000 sentences twice per model")
	}
	for _, tc := range []struct {
		model, data, calib, col string
	}{
		{"default", "sst2/test.tsv", "sst2/train.tsv", "sentence"},
		{"bge-small-zh", "chnsenticorp/test.tsv", "chnsenticorp/train.tsv", "text_a"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			src := requireModel(t, tc.model)
			requireORT(t)
			texts := sharedTexts(t, tc.data, tc.col, quantSentences)
			dst := filepath.Join(t.TempDir(), "int8")
			tok, err := encoder.LoadTokenizer(src)
			if err != nil {
				t.Fatal(err)
			}
			var seqs [][]int64
			for _, s := range sharedTexts(t, tc.calib, tc.col, 256) {
				seqs = append(seqs, tok.Encode(s, 128).IDs)
			}
			opts := models.QuantizeOptions{DType: models.DTypeInt8, Calibration: seqs}
			m, err := models.QuantizeDir(src, dst, opts)
			if err != nil {
				t.Fatal(err)
			}
			fm, err := models.ReadManifest(src)
			if err != nil {
				t.Fatal(err)
			}
			if m.DType != models.DTypeInt8 || m.QuantizedFrom != fm.SHA256 || m.SHA256 == fm.SHA256 {
				t.Fatalf("manifest dtype %q quantized_from %q sha256 %q; want int8 from %s", m.DType, m.QuantizedFrom, m.SHA256, fm.SHA256)
			}
			if err := m.Verify(dst); err != nil {
				t.Fatal(err)
			}
			a := embedAll(t, src, texts)
			b := embedAll(t, dst, texts)
			minCos, sum := 1.0, 0.0
			worst := 0
			for i := range a {
				c := orttest.Cosine(a[i], b[i])
				sum += c
				if c < minCos {
					minCos, worst = c, i
				}
			}
			t.Logf("%s int8 vs float32 on %d sentences of %s: cosine min %.4f (row %d), mean %.5f", tc.model, len(a), tc.data, minCos, worst, sum/float64(len(a)))
			if minCos < 0.99 {
				t.Errorf("int8 embedding of row %d (%q) has cosine %.4f with float32, below the 0.99 bar", worst, texts[worst], minCos)
			}
		})
	}
}

// sharedTexts reads the first n texts of column col of a ../shared/data
// file, skipping the test when the data is absent.
func sharedTexts(t *testing.T, rel, col string, n int) []string {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "data", filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real data not present (%v)", err)
	}
	r, err := corpus.Open(path, corpus.Options{TextColumn: col})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var texts []string
	for len(texts) < n {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, row.Text)
	}
	if len(texts) < n {
		t.Fatalf("%s has %d rows, want %d", path, len(texts), n)
	}
	return texts
}

func embedAll(t *testing.T, dir string, texts []string) [][]float32 {
	t.Helper()
	enc, err := encoder.Open(encoder.Options{ModelDir: dir, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	r, err := enc.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	return r.Vectors
}
