package metrics

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// Reference values from scikit-learn 1.2 (accuracy_score, f1_score,
// precision_recall_fscore_support(zero_division=0), roc_auc_score(ovr,
// macro), log_loss, confusion_matrix) on the same arrays.
var (
	p3 = [][]float64{{0.7, 0.2, 0.1}, {0.1, 0.6, 0.3}, {0.3, 0.3, 0.4}, {0.2, 0.5, 0.3},
		{0.5, 0.25, 0.25}, {0.1, 0.1, 0.8}, {0.4, 0.4, 0.2}, {0.05, 0.15, 0.8}}
	y3 = []int{0, 1, 2, 2, 1, 2, 1, 0}
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestComputeMatchesScikitLearn(t *testing.T) {
	t.Parallel()
	m, err := Compute(p3, y3, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"accuracy", m.Accuracy, 0.5},
		{"macro_f1", m.MacroF1, 0.48888888888888893},
		{"weighted_f1", m.WeightedF1, 0.5},
		{"log_loss", m.LogLoss, 1.0636531277208825},
		{"auc", *m.AUC, 0.7000000000000001},
		{"ece", m.ECE, 0.3125},
		{"precision a", m.PerClass[0].Precision, 1.0 / 3},
		{"recall b", m.PerClass[1].Recall, 1.0 / 3},
		{"f1 c", m.PerClass[2].F1, 2.0 / 3},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %.17g, scikit-learn %.17g", c.name, c.got, c.want)
		}
	}
	want := [][]int{{1, 0, 1}, {2, 1, 0}, {0, 1, 2}}
	for i := range want {
		for j := range want[i] {
			if m.Confusion[i][j] != want[i][j] {
				t.Fatalf("confusion %v, want %v", m.Confusion, want)
			}
		}
	}
	if m.PerClass[0].Support != 2 || m.PerClass[2].Support != 3 {
		t.Errorf("supports %+v", m.PerClass)
	}
}

func TestBinaryMatchesScikitLearn(t *testing.T) {
	t.Parallel()
	pb := []float64{0.9, 0.8, 0.8, 0.3, 0.6, 0.2, 0.5, 0.5, 0.1, 0.7}
	yb := []int{1, 1, 0, 0, 1, 0, 1, 0, 0, 1}
	probs := make([][]float64, len(pb))
	for i, p := range pb {
		probs[i] = []float64{1 - p, p}
	}
	m, err := Compute(probs, yb, []string{"neg", "pos"})
	if err != nil {
		t.Fatal(err)
	}
	if !near(*m.AUC, 0.8400000000000001) || !near(m.LogLoss, 0.4876915919141519) {
		t.Fatalf("auc %.17g log loss %.17g", *m.AUC, m.LogLoss)
	}
}

func TestAUCUndefinedIsNull(t *testing.T) {
	t.Parallel()
	m, err := Compute([][]float64{{0.2, 0.8}, {0.6, 0.4}}, []int{1, 1}, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if m.AUC != nil {
		t.Fatalf("AUC with one class present should be undefined, got %v", *m.AUC)
	}
	b, _ := json.Marshal(m)
	if !strings.Contains(string(b), `"auc":null`) {
		t.Fatalf("JSON %s lacks auc:null", b)
	}
	if _, ok := m.Value("auc"); ok {
		t.Fatal("Value(auc) should report undefined")
	}
}

func TestComputeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		probs [][]float64
		y     []int
		want  string
	}{
		{"empty", nil, nil, "no examples"},
		{"count", [][]float64{{1, 0}}, []int{0, 1}, "1 probability rows for 2 labels"},
		{"width", [][]float64{{1}}, []int{0}, "row 0 has 1 probabilities"},
		{"class", [][]float64{{1, 0}}, []int{2}, "class 2 outside"},
		{"nan", [][]float64{{math.NaN(), 0}}, []int{0}, "NaN"},
	}
	for _, tc := range tests {
		if _, err := Compute(tc.probs, tc.y, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestBinaryAUCTies(t *testing.T) {
	t.Parallel()
	// All scores equal: the AUC is exactly one half.
	if a, ok := BinaryAUC([]float64{0.5, 0.5, 0.5, 0.5}, []bool{true, false, true, false}); !ok || a != 0.5 {
		t.Fatalf("got %v %v", a, ok)
	}
	if a, _ := BinaryAUC([]float64{0.1, 0.9}, []bool{false, true}); a != 1 {
		t.Fatalf("perfect ranking gave %v", a)
	}
}

func TestConfidentMistakes(t *testing.T) {
	t.Parallel()
	got := ConfidentMistakes(p3, y3, 2)
	// Wrong rows: 3 (0.5), 4 (0.5), 6 (0.4), 7 (0.8); most confident first, ties by index.
	if len(got) != 2 || got[0].Index != 7 || got[1].Index != 3 || got[0].Predicted != 2 || got[0].True != 0 {
		t.Fatalf("got %+v", got)
	}
	if all := ConfidentMistakes(p3, y3, 0); len(all) != 4 {
		t.Fatalf("want all 4 mistakes, got %d", len(all))
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	m, _ := Compute(p3, y3, []string{"neg", "neutral", "pos"})
	var b strings.Builder
	if err := m.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"precision", "neutral", "macro avg", "0.4889", "ROC-AUC 0.7000", "confusion matrix", "log loss 1.0637"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
