package head

import (
	"fmt"
	"math"
	"sort"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// Split holds the fractions of a train/validation/test split.
type Split struct {
	Val  float64 `json:"val"`
	Test float64 `json:"test"`
}

// DefaultSplit is 80/10/10, as practitioners use.
var DefaultSplit = Split{Val: 0.1, Test: 0.1}

// StratifiedSplit divides the rows of labels y into train, validation and
// test index sets (each sorted) so every class keeps its proportion. The
// totals are round(N·Val) and round(N·Test); classes receive their
// shares by largest remainder, and every class keeps at least one
// training row. The same seed gives the same split.
func StratifiedSplit(y []int, numClasses int, s Split, seed uint64) (train, val, test []int, err error) {
	if s.Val < 0 || s.Test < 0 || s.Val+s.Test >= 1 {
		return nil, nil, nil, fmt.Errorf("split fractions val %.3g and test %.3g must be >= 0 and sum to less than 1", s.Val, s.Test)
	}
	byClass := make([][]int, numClasses)
	for i, c := range y {
		if c < 0 || c >= numClasses {
			return nil, nil, nil, fmt.Errorf("row %d: class %d outside [0, %d)", i+1, c, numClasses)
		}
		byClass[c] = append(byClass[c], i)
	}
	N := len(y)
	nVal := allocate(byClass, s.Val, int(math.Round(float64(N)*s.Val)), nil)
	nTest := allocate(byClass, s.Test, int(math.Round(float64(N)*s.Test)), nVal)
	rng := nn.NewRNG(seed)
	for c, idx := range byClass {
		idx = append([]int(nil), idx...)
		rng.Shuffle(idx)
		v, t := nVal[c], nTest[c]
		val = append(val, idx[:v]...)
		test = append(test, idx[v:v+t]...)
		train = append(train, idx[v+t:]...)
	}
	sort.Ints(train)
	sort.Ints(val)
	sort.Ints(test)
	return train, val, test, nil
}

// allocate shares total rows among classes in proportion to frac by the
// largest-remainder method, never taking a class's last training row
// (taken counts rows already given to another split).
func allocate(byClass [][]int, frac float64, total int, taken []int) []int {
	n := make([]int, len(byClass))
	room := make([]int, len(byClass))
	type rem struct {
		c int
		r float64
	}
	var rems []rem
	sum := 0
	for c, idx := range byClass {
		room[c] = len(idx) - 1
		if taken != nil {
			room[c] -= taken[c]
		}
		room[c] = max(room[c], 0)
		exact := frac * float64(len(idx))
		n[c] = min(int(exact), room[c])
		sum += n[c]
		rems = append(rems, rem{c, exact - float64(n[c])})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for progress := true; sum < total && progress; {
		progress = false
		for _, r := range rems {
			if sum >= total {
				break
			}
			if n[r.c] < room[r.c] {
				n[r.c]++
				sum++
				progress = true
			}
		}
	}
	return n
}
