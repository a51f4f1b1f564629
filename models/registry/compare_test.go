package registry

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
)

// Compare sees a difference of one weight: it is not comparing a graph
// with itself.
func TestCompareDetectsChanges(t *testing.T) {
	t.Parallel()
	orig, err := os.ReadFile(filepath.Join("..", "testdata", "onnx", "tiny-bert-opset11.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := models.RecoverONNX(orig)
	if err != nil {
		t.Fatal(err)
	}
	same, err := models.BuildONNX(rec.Config, rec.Weights)
	if err != nil {
		t.Fatal(err)
	}
	w := rec.Weights["encoder.layer.1.output.dense.bias"]
	w.Data = append([]float32(nil), w.Data...)
	w.Data[3] += 0.5
	rec.Weights["encoder.layer.1.output.dense.bias"] = w
	changed, err := models.BuildONNX(rec.Config, rec.Weights)
	if err != nil {
		t.Fatal(err)
	}
	seqs := CompareSeqs(rec.Config.VocabSize, rec.Config.MaxPositions)
	c, err := Compare(orig, same, seqs, "")
	if errors.Is(err, encoder.ErrNoRuntime) && os.Getenv("BERTSERVE_REQUIRE_ORT") != "1" {
		t.Skipf("ONNX Runtime not installed (run make setup): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxAbsDiff > 1e-5 || c.MinCosine < 0.99999 || c.Rows != 4 || c.Tokens != 1+7+32+32 {
		t.Errorf("rebuilt vs export: %s", c)
	}
	d, err := Compare(orig, changed, seqs, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.MaxAbsDiff < 0.1 {
		t.Errorf("a changed bias went unnoticed: %s", d)
	}
}
