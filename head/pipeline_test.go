package head

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeEncoder embeds "row <i>" as the i-th row of x and counts calls.
func fakeEncoder(x [][]float32, calls *int) *TextEncoder {
	return &TextEncoder{
		Info: EncoderInfo{Name: "fake", Digest: "sha256:f", Pooling: "mean", MaxLength: 16},
		Embed: func(ctx context.Context, texts []string) (Embedded, error) {
			*calls++
			var e Embedded
			for _, t := range texts {
				var i int
				if _, err := fmt.Sscanf(t, "row %d", &i); err != nil {
					return e, err
				}
				e.Vectors = append(e.Vectors, x[i])
			}
			return e, nil
		},
	}
}

func labelledBlobs(d *Dataset) *Labelled {
	l := &Labelled{Source: "blobs"}
	for i, y := range d.Y {
		l.Texts = append(l.Texts, fmt.Sprintf("row %d", i))
		l.Labels = append(l.Labels, d.Labels[y])
	}
	return l
}

func TestPipelineText(t *testing.T) {
	t.Parallel()
	d := blobs(300, 10, 3, 4, 5)
	calls := 0
	cfg := quick(HeadSoftmax)
	cfg.Normalize = true
	cfg.LabelNames = map[string]string{"c0": "zero"} // applied by the reader, not here
	var stages []Stage
	p := Pipeline{Config: cfg, Encoder: fakeEncoder(d.X, &calls), Chunk: 64, Progress: func(e Event) { stages = append(stages, e.Stage) }}
	tr, err := p.Run(context.Background(), Inputs{Train: labelledBlobs(d)})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 5 { // 300 texts in chunks of 64
		t.Errorf("%d Embed calls, want 5", calls)
	}
	if tr.Train.Len()+tr.Val.Len()+tr.Test.Len() != 300 || tr.Val.Len() != 30 || tr.Test.Len() != 30 {
		t.Errorf("split %d/%d/%d", tr.Train.Len(), tr.Val.Len(), tr.Test.Len())
	}
	for _, row := range tr.Train.X[:3] {
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		if math.Abs(ss-1) > 1e-5 {
			t.Errorf("normalize: a row of squared norm %v", ss)
		}
	}
	meta := tr.Model.Meta()
	if meta.Encoder.Digest != "sha256:f" || !meta.Encoder.Normalize || meta.Metrics["test"] == nil || meta.Metrics["validation"] == nil {
		t.Errorf("meta: %+v", meta.Encoder)
	}
	want := []Stage{StageEmbedding, StageSplit, StageTraining}
	for _, w := range want {
		found := false
		for _, s := range stages {
			found = found || s == w
		}
		if !found {
			t.Errorf("no %s event among %v", w, stages)
		}
	}
	if len(tr.Mistakes) > cfg.Errors {
		t.Errorf("%d mistakes, want at most %d", len(tr.Mistakes), cfg.Errors)
	}
	// Saving writes the whole head, with curves, in one directory.
	dir := filepath.Join(t.TempDir(), "h")
	if err := tr.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{MetaFile, TensorsFile, CurvesJSONFile, CurvesPNGFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s missing: %v", f, err)
		}
	}
}

// The same seed and data give the same head whether the data come as
// text (through the encoder) or as the embeddings themselves.
func TestPipelineTextAndEmbeddingsAgree(t *testing.T) {
	t.Parallel()
	d := blobs(200, 8, 2, 3, 9)
	calls := 0
	cfg := quick(HeadSoftmax)
	a, err := (&Pipeline{Config: cfg, Encoder: fakeEncoder(d.X, &calls)}).Run(context.Background(), Inputs{Train: labelledBlobs(d)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := (&Pipeline{Config: cfg}).Run(context.Background(), Inputs{TrainSet: d})
	if err != nil {
		t.Fatal(err)
	}
	pa, _ := a.Model.PredictProba(d.X[:10])
	pb, _ := b.Model.PredictProba(d.X[:10])
	for i := range pa {
		if pa[i][0] != pb[i][0] {
			t.Fatalf("row %d: %v from text, %v from embeddings", i, pa[i], pb[i])
		}
	}
}

func TestPipelineErrors(t *testing.T) {
	t.Parallel()
	d := blobs(40, 4, 2, 3, 1)
	calls := 0
	bad := quick(HeadSoftmax)
	bad.Patience = -1
	if _, err := (&Pipeline{Config: bad}).Run(context.Background(), Inputs{TrainSet: d}); err == nil || !strings.Contains(err.Error(), "patience") {
		t.Errorf("invalid config: %v", err)
	}
	if _, err := (&Pipeline{Config: quick(HeadSoftmax)}).Run(context.Background(), Inputs{Train: labelledBlobs(d)}); err == nil {
		t.Error("text without an encoder was accepted")
	}
	val := &Labelled{Source: "val.tsv", Texts: []string{"row 1"}, Labels: []string{"nope"}}
	_, err := (&Pipeline{Config: quick(HeadSoftmax), Encoder: fakeEncoder(d.X, &calls)}).Run(context.Background(), Inputs{Train: labelledBlobs(d), Val: val})
	if err == nil || !strings.Contains(err.Error(), `val.tsv, row 1: label "nope"`) {
		t.Errorf("unknown validation label: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Pipeline{Config: quick(HeadSoftmax), Encoder: fakeEncoder(d.X, &calls)}).Run(ctx, Inputs{Train: labelledBlobs(d)}); err == nil {
		t.Error("a cancelled run succeeded")
	}
}
