package nn

import (
	"math"
	"testing"
)

// The expected values below were produced by PyTorch 2 (Debian
// python3-torch), an independent implementation:
//
//	w = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
//	opt = torch.optim.AdamW([w], lr=0.1, weight_decay=0.01)
//	for g in [[0.1,-0.2,0.3],[0.4,0.0,-0.1],[-0.3,0.2,0.05]]: w.grad = g; opt.step()
func TestAdamWMatchesPyTorch(t *testing.T) {
	t.Parallel()
	p := newParam[float64]("w", true, 3)
	copy(p.W, []float64{0.5, -1.0, 2.0})
	opt := NewAdamW[float64](0.01)
	for _, g := range [][]float64{{0.1, -0.2, 0.3}, {0.4, 0.0, -0.1}, {-0.3, 0.2, 0.05}} {
		copy(p.G, g)
		opt.Step([]*Param[float64]{p}, 0.1)
	}
	want := []float64{0.29268137091568736, -0.8388508600551755, 1.81368152962111}
	for i := range want {
		if math.Abs(p.W[i]-want[i]) > 1e-12 {
			t.Errorf("w[%d] = %.15g, PyTorch %.15g", i, p.W[i], want[i])
		}
	}
}

// torch.nn.CrossEntropyLoss(weight=w, label_smoothing=ls)(z, y) on the
// logits and labels below.
func TestCrossEntropyMatchesPyTorch(t *testing.T) {
	t.Parallel()
	z := &Mat[float64]{Rows: 4, Cols: 3, Data: []float64{1, 2, 0.5, 0.1, -1, 0.3, 2, 0, -2, 0, 0, 0}}
	y := []int{1, 2, 0, 2}
	tests := []struct {
		ce   CrossEntropy
		want float64
	}{
		{CrossEntropy{}, 0.6109201684782837},
		{CrossEntropy{Smoothing: 0.1}, 0.6942535018116169},
		{CrossEntropy{ClassWeights: []float64{1, 2, 0.5}}, 0.4974648318421086},
		{CrossEntropy{Smoothing: 0.2, ClassWeights: []float64{1, 2, 0.5}}, 0.7163532381186197},
	}
	for _, tc := range tests {
		if got := Loss(tc.ce, z, y, nil, nil); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%+v: loss %.15g, PyTorch %.15g", tc.ce, got, tc.want)
		}
	}
}

func TestFastTanhAndExp(t *testing.T) {
	t.Parallel()
	worstT, worstE := 0.0, 0.0
	for x := -12.0; x <= 12; x += 0.00137 {
		worstT = max(worstT, math.Abs(float64(tanh32(float32(x)))-math.Tanh(x)))
		if math.Abs(x) <= 19 {
			worstE = max(worstE, math.Abs(float64(exp32(float32(x)))/math.Exp(float64(float32(x)))-1))
		}
	}
	if worstT > 3e-7 {
		t.Errorf("tanh32 max abs error %.3g", worstT)
	}
	if worstE > 5e-7 {
		t.Errorf("exp32 max rel error %.3g", worstE)
	}
}

func TestRNGIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := NewRNG(42), NewRNG(42)
	for i := 0; i < 100; i++ {
		if a.Uint64() != b.Uint64() {
			t.Fatal("same seed, different streams")
		}
	}
	idx := []int{0, 1, 2, 3, 4, 5, 6, 7}
	NewRNG(1).Shuffle(idx)
	seen := map[int]bool{}
	for _, v := range idx {
		seen[v] = true
	}
	if len(seen) != 8 {
		t.Fatalf("shuffle lost elements: %v", idx)
	}
	if c := NewRNG(3).Intn(5); c < 0 || c >= 5 {
		t.Fatalf("Intn out of range: %d", c)
	}
}

func TestClipGradNorm(t *testing.T) {
	t.Parallel()
	p := newParam[float64]("w", true, 2)
	copy(p.G, []float64{3, 4})
	if n := ClipGradNorm([]*Param[float64]{p}, 1); n != 5 {
		t.Fatalf("norm before clipping %v, want 5", n)
	}
	if n := GradNorm([]*Param[float64]{p}); math.Abs(n-1) > 1e-9 {
		t.Fatalf("norm after clipping %v, want 1", n)
	}
}

// TestFloat32MatchesFloat64 runs one network in both precisions: the
// training precision must follow the checked float64 code closely.
func TestFloat32MatchesFloat64(t *testing.T) {
	t.Parallel()
	build64 := func() *Sequential[float64] {
		rng := NewRNG(8)
		return &Sequential[float64]{Layers: []Module[float64]{NewLoRA[float64]("a", 16, 4, 8, rng),
			NewLinear[float64]("h", 16, 32, rng, false), NewActivation[float64](GELU), NewLinear[float64]("o", 32, 3, rng, false)}}
	}
	build32 := func() *Sequential[float32] {
		rng := NewRNG(8)
		return &Sequential[float32]{Layers: []Module[float32]{NewLoRA[float32]("a", 16, 4, 8, rng),
			NewLinear[float32]("h", 16, 32, rng, false), NewActivation[float32](GELU), NewLinear[float32]("o", 32, 3, rng, false)}}
	}
	n64, n32 := build64(), build32()
	x64 := randMat(NewRNG(9), 10, 16)
	x32 := NewMat[float32](10, 16)
	for i, v := range x64.Data {
		x32.Data[i] = float32(v)
	}
	y64, y32 := n64.Infer(x64), n32.Infer(x32)
	for i := range y64.Data {
		if math.Abs(y64.Data[i]-float64(y32.Data[i])) > 1e-5 {
			t.Fatalf("output %d: float64 %v, float32 %v", i, y64.Data[i], y32.Data[i])
		}
	}
}
