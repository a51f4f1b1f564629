package encoder_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder"
)

// TestEmbedIDsEqualsEmbed: the ids the tokenizer gives for a text embed to
// the same vector as the text; over-long ids are cut and counted; ids
// outside the vocabulary are refused.
func TestEmbedIDsEqualsEmbed(t *testing.T) {
	t.Parallel()
	e := open(t, encoder.Options{MaxLength: 32})
	texts := []string{"a gripping, funny and touching film", "ok", strings.Repeat("word ", 50)}
	want, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([][]int64, len(texts))
	for i, text := range texts {
		ids[i] = e.Tokenizer().Encode(text, 32).IDs
	}
	got, err := e.EmbedIDs(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if d := maxAbsDiff(want.Vectors[i], got.Vectors[i]); d > 1e-6 {
			t.Errorf("text %d: ids and text differ by %g", i, d)
		}
	}
	long := e.Tokenizer().Encode(texts[2], 0).IDs
	res, err := e.EmbedIDs(context.Background(), [][]int64{long})
	if err != nil || res.Truncated != 1 || res.TokenCounts[0] != 32 {
		t.Errorf("long ids: %v, truncated %d, tokens %v", err, res.Truncated, res.TokenCounts)
	}
	if _, err := e.EmbedIDs(context.Background(), [][]int64{{101, 1 << 40, 102}}); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Errorf("an id outside the vocabulary: %v", err)
	}
	if _, err := e.EmbedIDs(context.Background(), [][]int64{{}}); err == nil {
		t.Error("an empty id list was accepted")
	}
}
