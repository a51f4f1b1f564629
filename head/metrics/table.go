package metrics

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteTable prints the metrics as a plain-text report in the layout of
// scikit-learn's classification_report, followed by the headline
// figures and the confusion matrix.
func (m *Metrics) WriteTable(w io.Writer) error {
	lw := utf8.RuneCountInString("weighted avg")
	for _, l := range m.Labels {
		lw = max(lw, utf8.RuneCountInString(l))
	}
	pad := func(s string, n int) string { return strings.Repeat(" ", max(n-utf8.RuneCountInString(s), 0)) + s }
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %9s  %9s  %9s  %7s\n", pad("", lw), "precision", "recall", "f1-score", "support")
	var mp, mr, wp, wr float64
	for _, c := range m.PerClass {
		fmt.Fprintf(&b, "%s  %9.4f  %9.4f  %9.4f  %7d\n", pad(c.Label, lw), c.Precision, c.Recall, c.F1, c.Support)
		mp += c.Precision
		mr += c.Recall
		wp += c.Precision * float64(c.Support)
		wr += c.Recall * float64(c.Support)
	}
	k, n := float64(len(m.PerClass)), float64(m.N)
	fmt.Fprintf(&b, "\n%s  %9s  %9s  %9.4f  %7d\n", pad("accuracy", lw), "", "", m.Accuracy, m.N)
	fmt.Fprintf(&b, "%s  %9.4f  %9.4f  %9.4f  %7d\n", pad("macro avg", lw), mp/k, mr/k, m.MacroF1, m.N)
	fmt.Fprintf(&b, "%s  %9.4f  %9.4f  %9.4f  %7d\n", pad("weighted avg", lw), wp/n, wr/n, m.WeightedF1, m.N)
	auc := "n/a"
	if m.AUC != nil {
		auc = fmt.Sprintf("%.4f", *m.AUC)
	}
	fmt.Fprintf(&b, "\nlog loss %.4f   ROC-AUC %s   ECE %.4f\n\n", m.LogLoss, auc, m.ECE)
	b.WriteString("confusion matrix (rows: true, columns: predicted)\n")
	cw := 5
	for _, l := range m.Labels {
		cw = max(cw, utf8.RuneCountInString(l))
	}
	for _, row := range m.Confusion {
		for _, v := range row {
			cw = max(cw, len(fmt.Sprint(v)))
		}
	}
	b.WriteString(pad("", lw))
	for _, l := range m.Labels {
		b.WriteString("  " + pad(l, cw))
	}
	b.WriteString("\n")
	for t, row := range m.Confusion {
		b.WriteString(pad(m.Labels[t], lw))
		for _, v := range row {
			b.WriteString("  " + pad(fmt.Sprint(v), cw))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
