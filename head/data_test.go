package head

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder/npy"
)

func TestLabelNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  []string
		want []string
	}{
		{[]string{"10", "2", " 1", "2", "01"}, []string{"1", "2", "10"}},
		{[]string{"pos", "neg", "pos"}, []string{"neg", "pos"}},
		{[]string{"1", "x", "10", "2"}, []string{"1", "10", "2", "x"}},
		{[]string{"-1", "1"}, []string{"-1", "1"}},
	}
	for _, tc := range tests {
		got, err := LabelNames(tc.raw)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("LabelNames(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
	if _, err := LabelNames([]string{"a", " "}); err == nil || !strings.Contains(err.Error(), "row 2") {
		t.Errorf("empty label: %v", err)
	}
	y, err := EncodeLabels([]string{"01", "10"}, []string{"1", "2", "10"})
	if err != nil || !slices.Equal(y, []int{0, 2}) {
		t.Errorf("EncodeLabels = %v, %v", y, err)
	}
	_, err = EncodeLabels([]string{"1", "3"}, []string{"1", "2"})
	var ul *UnknownLabelError
	if !errors.As(err, &ul) || ul.Row != 2 || !strings.Contains(err.Error(), `training labels: "1", "2"`) {
		t.Errorf("unknown label: %v", err)
	}
}

func TestStratifiedSplit(t *testing.T) {
	t.Parallel()
	// 70 of class 0, 20 of class 1, 10 of class 2.
	var y []int
	for i := 0; i < 100; i++ {
		switch {
		case i < 70:
			y = append(y, 0)
		case i < 90:
			y = append(y, 1)
		default:
			y = append(y, 2)
		}
	}
	tr, va, te, err := StratifiedSplit(y, 3, DefaultSplit, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != 80 || len(va) != 10 || len(te) != 10 {
		t.Fatalf("sizes %d/%d/%d, want 80/10/10", len(tr), len(va), len(te))
	}
	count := func(idx []int, c int) int {
		n := 0
		for _, i := range idx {
			if y[i] == c {
				n++
			}
		}
		return n
	}
	if count(va, 0) != 7 || count(va, 1) != 2 || count(va, 2) != 1 || count(te, 0) != 7 {
		t.Errorf("validation classes %d/%d/%d, test class 0 %d", count(va, 0), count(va, 1), count(va, 2), count(te, 0))
	}
	all := append(append(append([]int{}, tr...), va...), te...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatal("the split is not a partition")
		}
	}
	tr2, va2, _, _ := StratifiedSplit(y, 3, DefaultSplit, 1)
	_, va3, _, _ := StratifiedSplit(y, 3, DefaultSplit, 2)
	if !slices.Equal(tr, tr2) || !slices.Equal(va, va2) {
		t.Error("same seed, different split")
	}
	if slices.Equal(va, va3) {
		t.Error("different seeds, same split")
	}
	// A class with one example stays in training.
	tr, va, te, _ = StratifiedSplit([]int{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 2, Split{Val: 0.2, Test: 0.2}, 3)
	if count2 := len(tr); count2 < 1 || slices.Contains(va, 9) || slices.Contains(te, 9) {
		t.Errorf("singleton class left training: %v %v %v", tr, va, te)
	}
	if _, _, _, err := StratifiedSplit(y, 3, Split{Val: 0.6, Test: 0.4}, 1); err == nil {
		t.Error("want an error for fractions summing to 1")
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadEmbeddings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, _ := os.Create(filepath.Join(dir, "x.npy"))
	npy.Write(f, [][]float32{{1, 2}, {3, 4}, {5, 6}})
	f.Close()
	x := filepath.Join(dir, "x.npy")
	d, err := ReadEmbeddings(x, writeFile(t, dir, "y.txt", "pos\r\nneg\npos\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || d.Dim() != 2 || !slices.Equal(d.Labels, []string{"neg", "pos"}) || !slices.Equal(d.Y, []int{1, 0, 1}) {
		t.Fatalf("got %+v", d)
	}
	tests := []struct {
		name, labels string
		names        []string
		want         string
	}{
		{"count mismatch", "pos\nneg\n", nil, "has 3 rows but"},
		{"empty labels file", "", nil, "no labels"},
		{"blank line inside", "pos\n\nneg\npos\n", nil, "line 2: empty label"},
		{"unseen validation label", "pos\nneu\npos\n", []string{"neg", "pos"}, `line 2: label "neu" does not occur in the training data`},
	}
	for _, tc := range tests {
		_, err := ReadEmbeddings(x, writeFile(t, dir, tc.name+".txt", tc.labels), tc.names)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	f, _ = os.Create(filepath.Join(dir, "nan.npy"))
	npy.Write(f, [][]float32{{1, 2}, {float32(math.NaN()), 4}})
	f.Close()
	if _, err := ReadEmbeddings(filepath.Join(dir, "nan.npy"), writeFile(t, dir, "two.txt", "a\nb\n"), nil); err == nil || !strings.Contains(err.Error(), "row 2") {
		t.Errorf("NaN: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default() is invalid: %v", err)
	}
	tests := []struct {
		name string
		edit func(*TrainConfig)
		want string
	}{
		{"head", func(c *TrainConfig) { c.Head = "svm" }, `head "svm": want softmax or mlp`},
		{"hidden", func(c *TrainConfig) { c.Head, c.Hidden = HeadMLP, []int{8, 8, 8} }, "1 or 2 hidden layers"},
		{"activation", func(c *TrainConfig) { c.Head, c.Activation = HeadMLP, "tanh" }, `unknown activation "tanh"`},
		{"dropout", func(c *TrainConfig) { c.Dropout = 1 }, "dropout 1 must be in [0, 1)"},
		{"lbfgs mlp", func(c *TrainConfig) { c.Head, c.Optimizer = HeadMLP, OptLBFGS }, "lbfgs fits the convex softmax head"},
		{"optimizer", func(c *TrainConfig) { c.Optimizer = "sgd" }, `optimizer "sgd"`},
		{"epochs", func(c *TrainConfig) { c.Epochs = 0 }, "epochs 0"},
		{"batch", func(c *TrainConfig) { c.BatchSize = 0 }, "batch_size 0"},
		{"lr nan", func(c *TrainConfig) { c.LR = math.NaN() }, "lr NaN must be > 0"},
		{"warmup", func(c *TrainConfig) { c.Warmup = 5 }, "warmup 5 is a fraction"},
		{"schedule", func(c *TrainConfig) { c.Schedule = "step" }, `schedule "step"`},
		{"smoothing", func(c *TrainConfig) { c.LabelSmoothing = -0.1 }, "label_smoothing"},
		{"class weight", func(c *TrainConfig) { c.ClassWeight = "pos:2" }, "label=weight pairs"},
		{"monitor", func(c *TrainConfig) { c.Monitor = "recall" }, `monitor "recall"`},
		{"tol", func(c *TrainConfig) { c.Tol = 0 }, "tol 0 must be > 0"},
	}
	for _, tc := range tests {
		c := Default()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	c := Default()
	if c.ResolvedOptimizer() != OptLBFGS {
		t.Error("softmax should default to lbfgs")
	}
	c.Head = HeadMLP
	if c.ResolvedOptimizer() != OptAdamW {
		t.Error("an mlp head needs adamw")
	}
}

func TestClassWeights(t *testing.T) {
	t.Parallel()
	c := Default()
	c.ClassWeight = "balanced"
	w, err := c.classWeights([]string{"a", "b", "c"}, []int{60, 30, 10})
	if err != nil || math.Abs(w[0]-100.0/180) > 1e-12 || math.Abs(w[2]-100.0/30) > 1e-12 {
		t.Fatalf("balanced: %v %v", w, err)
	}
	c.ClassWeight = "b=2.5, c=0"
	w, err = c.classWeights([]string{"a", "b", "c"}, []int{60, 30, 10})
	if err != nil || !slices.Equal(w, []float64{1, 2.5, 0}) {
		t.Fatalf("explicit: %v %v", w, err)
	}
}

func TestErrorAnalysis(t *testing.T) {
	t.Parallel()
	d := blobs(200, 6, 2, 1.2, 12)
	d.Texts = make([]string, d.Len())
	for i := range d.Texts {
		d.Texts[i] = "text " + string(rune('a'+i%26))
	}
	m, _, err := Train(t.Context(), d, nil, quick(HeadSoftmax), nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ErrorAnalysis(m, d, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 5 {
		t.Fatalf("got %d mistakes", len(ms))
	}
	for i, x := range ms {
		if x.True == x.Predicted || x.Text != d.Texts[x.Index] || x.Confidence < 0.5 || (i > 0 && x.Confidence > ms[i-1].Confidence) {
			t.Fatalf("mistake %d: %+v", i, x)
		}
	}
}
