package head

import (
	"fmt"
	"math"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// PredictLogits returns one row of raw scores per embedding (the logits,
// before the softmax that PredictProba applies), columns in Labels order.
// The server uses them for the pipeline's function_to_apply "none" and
// "sigmoid" and for TEI's raw_scores. Every row must have Dim finite
// values.
func (m *Model) PredictLogits(x [][]float32) ([][]float64, error) {
	for i, row := range x {
		if len(row) != m.meta.Dim {
			return nil, fmt.Errorf("row %d has %d values, the head expects %d (dimension mismatch: was it trained on another encoder?)", i+1, len(row), m.meta.Dim)
		}
		for j, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("row %d: embedding value %d is %v", i+1, j+1, v)
			}
		}
	}
	out := make([][]float64, 0, len(x))
	for lo := 0; lo < len(x); lo += inferChunk {
		hi := min(lo+inferChunk, len(x))
		batch := nn.NewMat[float32](hi-lo, m.meta.Dim)
		for i := lo; i < hi; i++ {
			copy(batch.Row(i-lo), x[i])
		}
		logits := m.net.seq.Infer(batch)
		for i := range logits.Rows {
			row := make([]float64, logits.Cols)
			for j, v := range logits.Row(i) {
				row[j] = float64(v)
			}
			out = append(out, row)
		}
	}
	return out, nil
}
