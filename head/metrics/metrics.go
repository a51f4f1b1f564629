package metrics

import (
	"errors"
	"fmt"
	"math"
)

// Class holds the figures of one class.
type Class struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Metrics is the evaluation of probabilities against labels.
type Metrics struct {
	N          int      `json:"n"`
	Accuracy   float64  `json:"accuracy"`
	MacroF1    float64  `json:"macro_f1"`
	WeightedF1 float64  `json:"weighted_f1"`
	AUC        *float64 `json:"auc"`
	LogLoss    float64  `json:"log_loss"`
	ECE        float64  `json:"ece"`
	Labels     []string `json:"labels"`
	PerClass   []Class  `json:"per_class"`
	// Confusion[t][p] counts examples of true class t predicted as p.
	Confusion [][]int `json:"confusion"`
}

// Names lists the values Value accepts.
var Names = []string{"accuracy", "macro_f1", "weighted_f1", "auc", "log_loss", "ece"}

// Value returns a headline figure by its JSON name; ok is false for an
// unknown name or an undefined AUC.
func (m *Metrics) Value(name string) (v float64, ok bool) {
	switch name {
	case "accuracy":
		return m.Accuracy, true
	case "macro_f1":
		return m.MacroF1, true
	case "weighted_f1":
		return m.WeightedF1, true
	case "auc":
		if m.AUC == nil {
			return 0, false
		}
		return *m.AUC, true
	case "log_loss":
		return m.LogLoss, true
	case "ece":
		return m.ECE, true
	}
	return 0, false
}

// HigherIsBetter reports whether a larger value of the named figure is
// an improvement (false for log_loss and ece).
func HigherIsBetter(name string) bool { return name != "log_loss" && name != "ece" }

// Argmax returns the index of the largest value (the lowest on ties).
func Argmax(p []float64) int {
	best := 0
	for c, v := range p {
		if v > p[best] {
			best = c
		}
	}
	return best
}

// Compute evaluates probs (one row per example, one column per label)
// against the true classes y.
func Compute(probs [][]float64, y []int, labels []string) (*Metrics, error) {
	if err := check(probs, y, len(labels)); err != nil {
		return nil, err
	}
	C, N := len(labels), len(y)
	m := &Metrics{N: N, Labels: append([]string(nil), labels...), Confusion: make([][]int, C)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, C)
	}
	var logLoss float64
	correct := 0
	for i, p := range probs {
		pred := Argmax(p)
		m.Confusion[y[i]][pred]++
		if pred == y[i] {
			correct++
		}
		logLoss -= math.Log(min(max(p[y[i]], 1e-15), 1-1e-15))
	}
	m.Accuracy = float64(correct) / float64(N)
	m.LogLoss = logLoss / float64(N)
	m.ECE = ECE(probs, y, 15)
	m.perClass()
	if auc, ok := AUC(probs, y, C); ok {
		m.AUC = &auc
	}
	return m, nil
}

func check(probs [][]float64, y []int, C int) error {
	if len(probs) != len(y) {
		return fmt.Errorf("%d probability rows for %d labels", len(probs), len(y))
	}
	if len(y) == 0 {
		return errors.New("no examples to evaluate")
	}
	if C < 1 {
		return errors.New("no labels")
	}
	for i, p := range probs {
		if len(p) != C {
			return fmt.Errorf("row %d has %d probabilities for %d labels", i, len(p), C)
		}
		if y[i] < 0 || y[i] >= C {
			return fmt.Errorf("row %d: class %d outside [0, %d)", i, y[i], C)
		}
		for _, v := range p {
			if math.IsNaN(v) {
				return fmt.Errorf("row %d: NaN probability", i)
			}
		}
	}
	return nil
}

func (m *Metrics) perClass() {
	C := len(m.Labels)
	m.PerClass = make([]Class, C)
	var macro, weighted float64
	counted := 0
	for c := 0; c < C; c++ {
		tp, support, predicted := m.Confusion[c][c], 0, 0
		for k := 0; k < C; k++ {
			support += m.Confusion[c][k]
			predicted += m.Confusion[k][c]
		}
		cl := Class{Label: m.Labels[c], Support: support}
		if predicted > 0 {
			cl.Precision = float64(tp) / float64(predicted)
		}
		if support > 0 {
			cl.Recall = float64(tp) / float64(support)
		}
		if cl.Precision+cl.Recall > 0 {
			cl.F1 = 2 * cl.Precision * cl.Recall / (cl.Precision + cl.Recall)
		}
		m.PerClass[c] = cl
		if support > 0 || predicted > 0 {
			macro += cl.F1
			counted++
		}
		weighted += cl.F1 * float64(support)
	}
	if counted > 0 {
		m.MacroF1 = macro / float64(counted)
	}
	m.WeightedF1 = weighted / float64(m.N)
}

// ECE is the expected calibration error with equal-width bins over the
// top probability: Σ_b (n_b/N)·|accuracy_b − confidence_b|.
func ECE(probs [][]float64, y []int, bins int) float64 {
	count := make([]int, bins)
	conf := make([]float64, bins)
	acc := make([]float64, bins)
	for i, p := range probs {
		pred := Argmax(p)
		b := min(int(p[pred]*float64(bins)), bins-1)
		b = max(b, 0)
		count[b]++
		conf[b] += p[pred]
		if pred == y[i] {
			acc[b]++
		}
	}
	var e float64
	for b := range count {
		if count[b] > 0 {
			e += math.Abs(acc[b]-conf[b]) / float64(len(probs))
		}
	}
	return e
}
