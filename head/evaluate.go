package head

import (
	"fmt"

	"github.com/bertserve/bertserve/head/metrics"
)

// Evaluate scores m on a labelled dataset. The dataset's labels must be
// the model's (build it with NewDataset(x, raw, m.Labels())).
func Evaluate(m *Model, d *Dataset) (*Metrics, error) {
	probs, err := probsFor(m, d)
	if err != nil {
		return nil, err
	}
	return metrics.Compute(probs, d.Y, m.meta.Labels)
}

func probsFor(m *Model, d *Dataset) ([][]float64, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("evaluation data: %w", err)
	}
	if len(d.Labels) != len(m.meta.Labels) {
		return nil, fmt.Errorf("the data has labels %s but the head has %s", quoteList(d.Labels), quoteList(m.meta.Labels))
	}
	for i := range d.Labels {
		if d.Labels[i] != m.meta.Labels[i] {
			return nil, fmt.Errorf("the data has labels %s but the head has %s", quoteList(d.Labels), quoteList(m.meta.Labels))
		}
	}
	return m.PredictProba(d.X)
}

// Mistake is one wrong prediction for error analysis.
type Mistake struct {
	Index      int     `json:"index"` // 0-based row
	Text       string  `json:"text,omitempty"`
	True       string  `json:"true"`
	Predicted  string  `json:"predicted"`
	Confidence float64 `json:"confidence"`
}

// ErrorAnalysis returns the n most confident mistakes of m on d (all of
// them for n <= 0), most confident first, with texts when d has them.
func ErrorAnalysis(m *Model, d *Dataset, n int) ([]Mistake, error) {
	probs, err := probsFor(m, d)
	if err != nil {
		return nil, err
	}
	ms := metrics.ConfidentMistakes(probs, d.Y, n)
	out := make([]Mistake, len(ms))
	for i, x := range ms {
		out[i] = Mistake{Index: x.Index, True: m.meta.Labels[x.True], Predicted: m.meta.Labels[x.Predicted], Confidence: x.Confidence}
		if d.Texts != nil {
			out[i].Text = d.Texts[x.Index]
		}
	}
	return out, nil
}
