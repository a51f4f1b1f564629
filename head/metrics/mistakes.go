package metrics

import "sort"

// Mistake is one wrong prediction.
type Mistake struct {
	Index      int     `json:"index"`
	True       int     `json:"true"`
	Predicted  int     `json:"predicted"`
	Confidence float64 `json:"confidence"`
}

// ConfidentMistakes returns up to n wrong predictions, most confident
// first (ties by index). n <= 0 returns them all.
func ConfidentMistakes(probs [][]float64, y []int, n int) []Mistake {
	var out []Mistake
	for i, p := range probs {
		if pred := Argmax(p); pred != y[i] {
			out = append(out, Mistake{Index: i, True: y[i], Predicted: pred, Confidence: p[pred]})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Confidence > out[b].Confidence })
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
