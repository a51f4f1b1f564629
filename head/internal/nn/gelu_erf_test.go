package nn

import (
	"math"
	"testing"
)

func TestErf32Exp32Accuracy(t *testing.T) {
	t.Parallel()
	var maxErf, maxExp float64
	for i := -200000; i <= 200000; i++ {
		x := float32(i) / 20000 // [-10, 10]
		maxErf = max(maxErf, math.Abs(float64(erf32(x))-math.Erf(float64(x))))
		want := math.Exp(float64(x) * 8) // [-80, 80]
		got := float64(exp32(x * 8))
		maxExp = max(maxExp, math.Abs(got-want)/want)
	}
	if maxErf > 5e-7 {
		t.Errorf("erf32: max abs error %.3g", maxErf)
	}
	if maxExp > 3e-7 {
		t.Errorf("exp32: max relative error %.3g", maxExp)
	}
	if exp32(-100) != 0 || !math.IsInf(float64(exp32(100)), 1) || exp32(0) != 1 {
		t.Errorf("exp32 limits: %v %v %v", exp32(-100), exp32(100), exp32(0))
	}
	t.Logf("erf32 max abs error %.3g, exp32 max rel error %.3g", maxErf, maxExp)
}
