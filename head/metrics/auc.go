package metrics

import "sort"

// AUC returns the ROC-AUC: for two classes, that of the class-1
// probability; for more, the mean of one-vs-rest AUCs over the classes
// that have both positives and negatives. ok is false when no class
// qualifies.
func AUC(probs [][]float64, y []int, C int) (auc float64, ok bool) {
	scores := make([]float64, len(y))
	pos := make([]bool, len(y))
	column := func(c int) {
		for i, p := range probs {
			scores[i], pos[i] = p[c], y[i] == c
		}
	}
	if C == 2 {
		column(1)
		return BinaryAUC(scores, pos)
	}
	var sum float64
	n := 0
	for c := 0; c < C; c++ {
		column(c)
		if a, ok := BinaryAUC(scores, pos); ok {
			sum += a
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// BinaryAUC is the area under the ROC curve of scores for the positives,
// computed as the Mann–Whitney statistic with average ranks for ties.
// ok is false without both positives and negatives.
func BinaryAUC(scores []float64, positive []bool) (float64, bool) {
	n := len(scores)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var rankSum float64
	nPos := 0
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j averaged
		for k := i; k < j; k++ {
			if positive[idx[k]] {
				rankSum += avg
				nPos++
			}
		}
		i = j
	}
	nNeg := n - nPos
	if nPos == 0 || nNeg == 0 {
		return 0, false
	}
	return (rankSum - float64(nPos)*float64(nPos+1)/2) / (float64(nPos) * float64(nNeg)), true
}
