package curve_test

import (
	"fmt"

	"github.com/bertserve/bertserve/head/curve"
)

func ExampleDiagnose() {
	h := &curve.History{Step: "epoch", Metric: "accuracy", Validation: true, Classes: 2, Best: 3}
	train := []float64{0.62, 0.48, 0.40, 0.33, 0.27, 0.21}
	val := []float64{0.60, 0.50, 0.45, 0.47, 0.50, 0.55}
	for i := range train {
		h.Add(curve.Point{Epoch: i + 1, TrainLoss: train[i], ValLoss: val[i]})
	}
	fmt.Println(curve.Diagnose(h))
	// Output:
	// Over-fitting from epoch 4: validation loss was lowest at epoch 3 (0.4500) and rose to 0.5500 by epoch 6, while training loss kept falling (0.4000 to 0.2100).
	//   - the weights of epoch 3, the best on validation, were kept
	//   - regularise more: raise --weight-decay, --dropout or --label-smoothing
	//   - use a smaller head (--hidden, or --head softmax) or fewer --epochs
	//   - more training data helps most
}
