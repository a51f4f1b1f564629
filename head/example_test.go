package head_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/bertserve/bertserve/head"
)

// toy returns n two-dimensional points around (±1, ±1) labelled by
// quadrant sign of the first coordinate.
func toy(n int, seed uint64) ([][]float32, []string) {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([][]float32, n)
	labels := make([]string, n)
	for i := range x {
		c := 1.0
		labels[i] = "positive"
		if i%2 == 0 {
			c, labels[i] = -1, "negative"
		}
		x[i] = []float32{float32(c + 0.5*r.NormFloat64()), float32(0.5 * r.NormFloat64())}
	}
	return x, labels
}

func Example() {
	x, raw := toy(400, 1)
	train, err := head.NewDataset(x, raw, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	vx, vraw := toy(100, 2)
	val, err := head.NewDataset(vx, vraw, train.Labels) // the training names
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := head.Default() // softmax head, fitted by L-BFGS
	model, report, err := head.Train(context.Background(), train, val, cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("labels:", model.Labels())
	fmt.Println("optimizer:", report.Result.Optimizer, "converged:", report.Result.Converged)
	fmt.Printf("validation accuracy: %.2f\n", report.Val.Accuracy)
	p, _ := model.PredictProba([][]float32{{2, 0}})
	fmt.Printf("P(positive | (2, 0)) > 0.9: %v\n", p[0][1] > 0.9)
	// Output:
	// labels: [negative positive]
	// optimizer: lbfgs converged: true
	// validation accuracy: 0.98
	// P(positive | (2, 0)) > 0.9: true
}

func ExampleLabelNames() {
	names, _ := head.LabelNames([]string{"10", "2", "1", "2"})
	fmt.Println(names)
	names, _ = head.LabelNames([]string{"pos", "neg", "neutral"})
	fmt.Println(names)
	// Output:
	// [1 2 10]
	// [neg neutral pos]
}

func ExampleStratifiedSplit() {
	y := make([]int, 50)
	for i := range y {
		y[i] = i % 5 // five classes of ten
	}
	train, val, test, _ := head.StratifiedSplit(y, 5, head.DefaultSplit, 42)
	fmt.Println(len(train), len(val), len(test))
	// Output: 40 5 5
}
