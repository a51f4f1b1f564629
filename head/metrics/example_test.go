package metrics_test

import (
	"fmt"
	"os"

	"github.com/bertserve/bertserve/head/metrics"
)

func ExampleCompute() {
	probs := [][]float64{{0.9, 0.1}, {0.3, 0.7}, {0.6, 0.4}, {0.2, 0.8}}
	y := []int{0, 1, 1, 1}
	m, err := metrics.Compute(probs, y, []string{"negative", "positive"})
	if err != nil {
		fmt.Println(err)
		return
	}
	m.WriteTable(os.Stdout)
	// Output:
	//                precision     recall   f1-score  support
	//     negative     0.5000     1.0000     0.6667        1
	//     positive     1.0000     0.6667     0.8000        3
	//
	//     accuracy                           0.7500        4
	//    macro avg     0.7500     0.8333     0.7333        4
	// weighted avg     0.8750     0.7500     0.7667        4
	//
	// log loss 0.4004   ROC-AUC 1.0000   ECE 0.3000
	//
	// confusion matrix (rows: true, columns: predicted)
	//               negative  positive
	//     negative         1         0
	//     positive         1         2
}
