package head

import (
	"math"
	"testing"
)

// TestPredictLogitsSoftmaxIsPredictProba: the softmax of the logits is
// exactly what PredictProba returns, for both head kinds.
func TestPredictLogitsSoftmaxIsPredictProba(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"softmax", "mlp"} {
		ds := blobs(60, 8, 3, 2, 1)
		x := ds.X
		cfg := Default()
		cfg.Head, cfg.Epochs, cfg.Hidden = kind, 3, []int{4}
		m, _, err := Train(t.Context(), ds, nil, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		logits, err := m.PredictLogits(x)
		if err != nil {
			t.Fatal(err)
		}
		probs, err := m.PredictProba(x)
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range logits {
			mx := math.Inf(-1)
			for _, v := range row {
				mx = max(mx, v)
			}
			sum := 0.0
			for _, v := range row {
				sum += math.Exp(v - mx)
			}
			for j, v := range row {
				if p := math.Exp(v-mx) / sum; math.Abs(p-probs[i][j]) > 1e-6 {
					t.Fatalf("%s: softmax(logits)[%d][%d] = %g, PredictProba %g", kind, i, j, p, probs[i][j])
				}
			}
		}
		if _, err := m.PredictLogits([][]float32{{1}}); err == nil {
			t.Errorf("%s: a wrong-sized row was accepted", kind)
		}
	}
}
