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

// TestVectorElementwiseBitIdentical checks that the vector exact-GELU
// (forward, backward) and exp used by softmax give the scalar Go code's
// results bit for bit, so where a parallel loop hands over to the Go
// tail (which moves with the number of cores) never shows.
func TestVectorElementwiseBitIdentical(t *testing.T) {
	t.Parallel()
	const n = 4096 + 5
	x := make([]float32, n)
	rng := NewRNG(7)
	for i := range x {
		switch i % 4 {
		case 0:
			x[i] = float32((rng.Float64()*2 - 1) * 12) // beyond the clamps
		case 1:
			x[i] = float32((rng.Float64()*2 - 1) * 3)
		case 2:
			x[i] = float32((rng.Float64()*2 - 1) * 1e-3)
		default:
			x[i] = float32((rng.Float64()*2 - 1) * 200) // exp's limits
		}
	}
	x[0], x[1], x[2] = 0, -87.33654, 88.72283
	dy := make([]float32, n)
	Uniform(rng, dy, 1)
	y, c := make([]float32, n), make([]float32, n)
	geluErfForward(x, y, c)
	yn := make([]float32, n)
	geluErfForward(x, yn, nil)
	dx := make([]float32, n)
	geluErfBackward(x, c, dy, dx)
	for i, v := range x {
		cw := 0.5 * (1 + erf32(v*invSqrt2))
		if math.Float32bits(c[i]) != math.Float32bits(cw) || math.Float32bits(y[i]) != math.Float32bits(v*cw) || yn[i] != y[i] {
			t.Fatalf("gelu(%v): %v (Φ %v), scalar %v (Φ %v)", v, y[i], c[i], v*cw, cw)
		}
		dw := dy[i] * (cw + v*invSqrt2Pi*exp32(-0.5*v*v))
		if math.Float32bits(dx[i]) != math.Float32bits(dw) {
			t.Fatalf("gelu'(%v): %v, scalar %v", v, dx[i], dw)
		}
	}
	e := append([]float32(nil), x...)
	done, sum := expSubVec(e, 0.25)
	var want float32
	for i := 0; i < done; i++ {
		w := exp32(x[i] - 0.25)
		if math.Float32bits(e[i]) != math.Float32bits(w) {
			t.Fatalf("exp32(%v): %v, scalar %v", x[i]-0.25, e[i], w)
		}
		if !math.IsInf(float64(w), 0) {
			want += w
		}
	}
	if done > 0 && !math.IsInf(float64(sum), 1) {
		t.Fatalf("exp sum %v should be +Inf (inputs above 88.7)", sum)
	}
	_ = want
	// the sum: eight lane sums, then ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))
	f := make([]float32, 203)
	Uniform(rng, f, 10)
	done, sum = expSubVec(f, 1)
	if haveFMA && done != 200 {
		t.Fatalf("expSubVec did %d of 203", done)
	}
	var lane [8]float32
	for i := 0; i < done; i++ {
		lane[i%8] += f[i]
	}
	if w := ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7])); done > 0 && sum != w {
		t.Fatalf("exp sum %v, want %v", sum, w)
	}
}
