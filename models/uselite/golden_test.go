package uselite

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bertserve/bertserve/models/internal/orttest"
)

// minCosine is what every golden sentence must reach against the TF.js
// embedding.
const minCosine = 0.9999

type goldenEmbedding struct {
	Name      string
	Text      *string
	Src       *source
	Row       int
	H         string
	N         int
	IDs       []int64
	Embedding []float64
}

type goldenEmbeddings struct {
	Generator string
	Dim       int
	MaxLength int `json:"max_length"`
	Items     []goldenEmbedding
}

// goldenTexts resolves the golden items to their texts; items that name
// rows of ../shared/data are dropped (and counted) when it is absent.
func goldenTexts(t *testing.T) (goldenEmbeddings, []string, int) {
	t.Helper()
	var g goldenEmbeddings
	readGzJSON(t, "golden_embeddings.json.gz", &g)
	data := sharedData(t)
	cache := map[source][]string{}
	var items []goldenEmbedding
	var texts []string
	skipped := 0
	for _, it := range g.Items {
		switch {
		case it.Text != nil:
			texts = append(texts, *it.Text)
		case data == "":
			skipped++
			continue
		default:
			key := *it.Src
			rows, ok := cache[key]
			if !ok {
				rows = readRows(t, data, key)
				cache[key] = rows
			}
			if it.Row >= len(rows) || sha12(rows[it.Row]) != it.H {
				t.Fatalf("%s row %d is not the text the golden embedding was made from: rerun scripts/uselite/golden.js", key.File, it.Row)
			}
			texts = append(texts, rows[it.Row])
		}
		items = append(items, it)
	}
	g.Items = items
	return g, texts, skipped
}

func cosine(a []float32, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * b[i]
		aa += float64(a[i]) * float64(a[i])
		bb += b[i] * b[i]
	}
	return ab / math.Sqrt(aa*bb)
}

// batch pads token id lists into one [rows, longest] input pair.
func batch(ids [][]int64) []orttest.Input {
	longest := 0
	for _, r := range ids {
		longest = max(longest, len(r))
	}
	flat := make([]int64, len(ids)*longest)
	mask := make([]int64, len(ids)*longest)
	for i, r := range ids {
		copy(flat[i*longest:], r)
		for j := range r {
			mask[i*longest+j] = 1
		}
	}
	shape := []int64{int64(len(ids)), int64(longest)}
	return []orttest.Input{{Name: InputIDs, Shape: shape, Int64: flat}, {Name: AttentionMask, Shape: shape, Int64: mask}}
}

// TestGoldenEmbeddings runs the converted model.onnx in ONNX Runtime on the
// ~130 golden texts (real lines of ../shared/data, long IMDb reviews,
// accents, emoji, full width, other scripts, the empty string) and
// compares with what the npm package computed in TF.js: the token ids
// (first 128) must be identical and every cosine above 0.9999. The texts
// run as one padded batch, so the check also covers padding; a few run
// alone too.
func TestGoldenEmbeddings(t *testing.T) {
	orttest.Require(t)
	dir := convertedDir(t)
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	tok := loadTokenizer(t)
	g, texts, skipped := goldenTexts(t)
	if skipped > 0 {
		t.Logf("%d golden items name rows of ../shared/data, which is absent; checking the other %d", skipped, len(g.Items))
	}
	if g.Dim != Dim || g.MaxLength != MaxLength {
		t.Fatalf("golden file is for dim %d max length %d", g.Dim, g.MaxLength)
	}
	ids := make([][]int64, len(texts))
	truncated := 0
	for i, text := range texts {
		it := g.Items[i]
		enc := tok.Encode(text, MaxLength)
		ids[i] = enc.IDs
		if enc.Truncated != (it.N > MaxLength) {
			t.Errorf("%s: Truncated = %v for a text of %d tokens", it.Name, enc.Truncated, it.N)
		}
		if enc.Truncated {
			truncated++
		}
		if !slices.Equal(enc.IDs, it.IDs) {
			t.Errorf("%s: ids differ from the package's\n got  %v\n want %v", it.Name, enc.IDs, it.IDs)
		}
	}
	out := orttest.Run(t, model, batch(ids), []string{OutputName}, nil)[OutputName]
	if !slices.Equal(out.Shape, []int64{int64(len(texts)), Dim}) {
		t.Fatalf("output shape %v", out.Shape)
	}
	worst, worstName, maxAbs := 1.0, "", 0.0
	for i, it := range g.Items {
		vec := out.Data[i*Dim : (i+1)*Dim]
		c := cosine(vec, it.Embedding)
		for j := range vec {
			maxAbs = math.Max(maxAbs, math.Abs(float64(vec[j])-it.Embedding[j]))
		}
		if c < worst {
			worst, worstName = c, it.Name
		}
		if c < minCosine {
			t.Errorf("%s (%q…): cosine %.7f with the TF.js embedding, want > %v", it.Name, prefix(texts[i], 40), c, minCosine)
		}
	}
	t.Logf("%d golden texts (%d truncated at %d tokens): min cosine 1-%.1e (%s), max |diff| %.2e", len(texts), truncated, MaxLength, 1-worst, worstName, maxAbs)

	// Alone, in a batch of one, each text gives the same vector.
	for _, i := range []int{0, len(texts) - 1, len(texts) / 2} {
		one := orttest.Run(t, model, batch(ids[i:i+1]), []string{OutputName}, nil)[OutputName]
		if c := cosine(one.Data, g.Items[i].Embedding); c < minCosine {
			t.Errorf("%s alone: cosine %.7f", g.Items[i].Name, c)
		}
	}
	if truncated == 0 {
		t.Error("no golden text is longer than 128 tokens")
	}
}

func prefix(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return fmt.Sprint(string(r))
}

// TestEmptyText pins the rule for the empty string, which the npm package
// throws on: its token sequence is empty, and the model gives the vector
// TF.js gives an all-padding row (golden item "empty"), whether the batch
// has other rows, or is a single row of zero or one padded position.
func TestEmptyText(t *testing.T) {
	orttest.Require(t)
	dir := convertedDir(t)
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if ids := loadTokenizer(t).Encode("", MaxLength).IDs; len(ids) != 0 {
		t.Fatalf("the empty string tokenizes to %v", ids)
	}
	var g goldenEmbeddings
	readGzJSON(t, "golden_embeddings.json.gz", &g)
	var want []float64
	for _, it := range g.Items {
		if it.Name == "empty" {
			want = it.Embedding
		}
	}
	if want == nil {
		t.Fatal("no golden item for the empty string")
	}
	cases := map[string][]orttest.Input{
		"beside a text": batch([][]int64{{}, {2002, 102, 311}}),
		"one padded":    {{Name: InputIDs, Shape: []int64{1, 1}, Int64: []int64{0}}, {Name: AttentionMask, Shape: []int64{1, 1}, Int64: []int64{0}}},
		"zero length":   {{Name: InputIDs, Shape: []int64{1, 0}, Int64: []int64{}}, {Name: AttentionMask, Shape: []int64{1, 0}, Int64: []int64{}}},
	}
	for name, in := range cases {
		out := orttest.Run(t, model, in, []string{OutputName}, nil)[OutputName]
		if c := cosine(out.Data[:Dim], want); c < minCosine {
			t.Errorf("%s: cosine %.7f with the TF.js all-padding row", name, c)
		}
	}
}
