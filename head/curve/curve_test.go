package curve

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hist(train, val []float64) *History {
	h := &History{Step: "epoch", Metric: "accuracy", Validation: val != nil, Classes: 2}
	for i := range train {
		p := Point{Epoch: i + 1, TrainLoss: train[i], TrainMetric: 0.5 + 0.01*float64(i)}
		if val != nil {
			p.ValLoss, p.ValMetric = val[i], 0.5
		}
		h.Add(p)
	}
	return h
}

func TestDiagnose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		h       *History
		verdict Verdict
		from    int
		mention string
	}{
		{"over-fitting from epoch 4", hist(
			[]float64{0.60, 0.45, 0.35, 0.28, 0.22, 0.17, 0.13},
			[]float64{0.62, 0.50, 0.44, 0.46, 0.49, 0.53, 0.58}), OverFitting, 4, "from epoch 4"},
		{"good fit", hist(
			[]float64{0.60, 0.45, 0.40, 0.39, 0.385, 0.384},
			[]float64{0.62, 0.48, 0.43, 0.425, 0.426, 0.427}), GoodFit, 0, "minimum 0.4250 at epoch 4"},
		{"under-fitting: high losses", hist(
			[]float64{0.69, 0.685, 0.684, 0.684},
			[]float64{0.69, 0.688, 0.687, 0.687}), UnderFitting, 0, "both losses are high"},
		{"under-fitting: still falling", hist(
			[]float64{0.60, 0.50, 0.42, 0.35},
			[]float64{0.61, 0.52, 0.45, 0.39}), UnderFitting, 0, "still falling"},
		{"unstable", hist(
			[]float64{0.50, 0.40, 0.45, 0.55},
			[]float64{0.52, 0.42, 0.50, 0.60}), Unstable, 0, "both losses rose"},
		{"no validation", hist([]float64{0.5, 0.3, 0.29, 0.289}, nil), GoodFit, 0, "cannot be judged"},
		{"one epoch", hist([]float64{0.5}, []float64{0.5}), TooShort, 0, "Only 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := Diagnose(tc.h)
			if d.Verdict != tc.verdict || d.FromEpoch != tc.from || !strings.Contains(d.Summary, tc.mention) {
				t.Fatalf("got %+v\nwant verdict %q from %d mentioning %q", d, tc.verdict, tc.from, tc.mention)
			}
			if d.String() == "" {
				t.Fatal("empty String")
			}
		})
	}
}

func TestOverFittingAdviceMentionsKeptWeights(t *testing.T) {
	t.Parallel()
	h := hist([]float64{0.6, 0.4, 0.3, 0.2}, []float64{0.6, 0.45, 0.5, 0.6})
	h.Best = 2
	d := Diagnose(h)
	if d.Verdict != OverFitting || !strings.Contains(d.String(), "weights of epoch 2") {
		t.Fatalf("got %s", d)
	}
}

func TestPNG(t *testing.T) {
	t.Parallel()
	h := hist([]float64{0.6, 0.45, 0.35, 0.28, 0.22}, []float64{0.62, 0.5, 0.44, 0.46, 0.49})
	h.Best = 3
	dir := t.TempDir()
	p := filepath.Join(dir, "curves.png")
	if err := h.WritePNG(p, "mlp head"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 1000 || r.Dy() < 400 {
		t.Fatalf("image %v too small to read", r)
	}
	if err := h.WriteJSON(filepath.Join(dir, "curves.json")); err != nil {
		t.Fatal(err)
	}
}

func TestPNGRejectsBadCurves(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := (&History{}).PNG(&b, "x"); err == nil {
		t.Fatal("want an error for an empty history")
	}
	h := hist([]float64{0.5, math.NaN()}, nil)
	if err := h.PNG(&b, "x"); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Fatalf("want a not-finite error, got %v", err)
	}
}
