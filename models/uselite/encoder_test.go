package uselite

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models/internal/orttest"
)

// TestEncoderEndToEnd opens the converted directory the way `bertserve
// embed` does (encoder.Open: LoadTokenizer dispatching to LoadUnigram,
// pooling auto resolving to the model's own output, max length from
// bertserve.json, length-sorted batches) and checks every golden text
// against TF.js, the truncation count, and the empty string.
func TestEncoderEndToEnd(t *testing.T) {
	orttest.Require(t)
	dir := convertedDir(t)
	enc, err := encoder.Open(encoder.Options{
		ModelDir:    dir,
		BatchTokens: 2048, // several batches of mixed lengths
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	info := enc.Info()
	if info.Dim != Dim || info.MaxLength != MaxLength || info.Pooling != "model" {
		t.Fatalf("encoder info %+v: want dim 512, max length 128, pooling model", info)
	}
	g, texts, _ := goldenTexts(t)
	res, err := enc.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	wantTrunc := 0
	worst := 1.0
	for i, it := range g.Items {
		if it.N > MaxLength {
			wantTrunc++
		}
		c := cosine(res.Vectors[i], it.Embedding)
		worst = min(worst, c)
		if c < minCosine {
			t.Errorf("%s: cosine %.7f through encoder.Open", it.Name, c)
		}
	}
	if res.Truncated != wantTrunc || wantTrunc == 0 {
		t.Errorf("Truncated = %d, want %d", res.Truncated, wantTrunc)
	}
	t.Logf("%d texts in %d batches: min cosine 1-%.1e, %d truncated", len(texts), res.Batches, 1-worst, res.Truncated)

	// An all-empty batch (zero padded positions) still gives the defined
	// empty-text vector.
	empty, err := enc.Embed(context.Background(), []string{"", ""})
	if err != nil {
		t.Fatalf("embedding empty strings: %v", err)
	}
	for _, it := range g.Items {
		if it.Name == "empty" {
			if c := cosine(empty.Vectors[1], it.Embedding); c < minCosine {
				t.Errorf("empty string: cosine %.7f", c)
			}
		}
	}
}
