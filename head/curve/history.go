package curve

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// Point is one epoch (or iteration) of training.
type Point struct {
	Epoch       int     `json:"epoch"`
	TrainLoss   float64 `json:"train_loss"`
	TrainMetric float64 `json:"train_metric"`
	ValLoss     float64 `json:"val_loss,omitempty"`
	ValMetric   float64 `json:"val_metric,omitempty"`
	LR          float64 `json:"lr,omitempty"`
}

// History is a learning curve.
type History struct {
	// Step is "epoch", or "iteration" for full-batch L-BFGS.
	Step string `json:"step"`
	// Metric names the metric columns, e.g. "accuracy".
	Metric string `json:"metric"`
	// Validation says whether the val_* fields are filled.
	Validation bool `json:"validation"`
	// Classes is the number of classes; ln(Classes) is the loss of
	// guessing, the yardstick for under-fitting.
	Classes int `json:"classes"`
	// Best is the epoch whose weights were kept (0: the last).
	Best   int     `json:"best,omitempty"`
	Points []Point `json:"points"`
}

// Add appends a point.
func (h *History) Add(p Point) { h.Points = append(h.Points, p) }

// Validate checks that the curve can be drawn and read: finite values
// and increasing epochs.
func (h *History) Validate() error {
	for i, p := range h.Points {
		for _, v := range []float64{p.TrainLoss, p.TrainMetric, p.ValLoss, p.ValMetric} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("curve point %d (%s %d) is not finite", i, h.step(), p.Epoch)
			}
		}
		if i > 0 && p.Epoch <= h.Points[i-1].Epoch {
			return fmt.Errorf("curve point %d: %s %d does not follow %d", i, h.step(), p.Epoch, h.Points[i-1].Epoch)
		}
	}
	return nil
}

func (h *History) step() string {
	if h.Step == "" {
		return "epoch"
	}
	return h.Step
}

// WriteJSON writes the history as indented JSON, atomically.
func (h *History) WriteJSON(path string) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(b, '\n'))
}
