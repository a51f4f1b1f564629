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

func TestFastTanh(t *testing.T) {
	t.Parallel()
	worst := 0.0
	for x := -12.0; x <= 12; x += 0.000137 {
		xf := float32(x)
		worst = max(worst, math.Abs(float64(tanh32(xf))-math.Tanh(float64(xf))))
	}
	if worst > 5e-7 { // a few float32 ulps near ±1
		t.Errorf("tanh32 max abs error %.3g", worst)
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
		return &Sequential[float64]{Layers: []Module[float64]{
			NewLinear[float64]("h", 16, 32, rng, false), NewActivation[float64](GELU), NewLinear[float64]("o", 32, 3, rng, false)}}
	}
	build32 := func() *Sequential[float32] {
		rng := NewRNG(8)
		return &Sequential[float32]{Layers: []Module[float32]{
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

func BenchmarkAdamWStep(b *testing.B) {
	p := newParam[float32]("w", true, 98304)
	Uniform(NewRNG(1), p.G, 1)
	opt := NewAdamW[float32](0.01)
	ps := []*Param[float32]{p}
	for i := 0; i < b.N; i++ {
		opt.Step(ps, 1e-3)
	}
	b.ReportMetric(float64(b.N*len(p.W))/b.Elapsed().Seconds()/1e6, "Melem/s")
}

func BenchmarkGELU(b *testing.B) {
	x := NewMat[float32](64, 256)
	Uniform(NewRNG(1), x.Data, 3)
	a := NewActivation[float32](GELU)
	for i := 0; i < b.N; i++ {
		a.Forward(x, true)
	}
	b.ReportMetric(float64(b.N*len(x.Data))/b.Elapsed().Seconds()/1e6, "Melem/s")
}

// TestAdamVectorMatchesScalar: the AVX update must equal the Go loop bit
// for bit (no fused multiply-adds), so the same seed gives the same
// weights whichever path runs.
func TestAdamVectorMatchesScalar(t *testing.T) {
	t.Parallel()
	const n = 37
	mk := func(seed uint64) []float32 {
		s := make([]float32, n)
		Uniform(NewRNG(seed), s, 1)
		return s
	}
	m1, v1, w1, g := mk(1), mk(2), mk(3), mk(4)
	for i := range v1 {
		v1[i] *= v1[i]
	}
	m2, v2, w2 := append([]float32(nil), m1...), append([]float32(nil), v1...), append([]float32(nil), w1...)
	adam32(m1, v1, w1, g, 0.9, 0.999, 0.99, 1e-3, 1.3, 1e-8)
	// The scalar loop alone, as on machines without AVX.
	b1, b2, decay, step, vc, eps := float32(0.9), float32(0.999), float32(0.99), float32(1e-3), float32(1.3), float32(1e-8)
	for j, gj := range g {
		mj := b1*m2[j] + (1-b1)*gj
		vj := b2*v2[j] + (1-b2)*gj*gj
		m2[j], v2[j] = mj, vj
		w2[j] = w2[j]*decay - step*mj/(float32(math.Sqrt(float64(vj)))*vc+eps)
	}
	for j := range w1 {
		if math.Float32bits(w1[j]) != math.Float32bits(w2[j]) || m1[j] != m2[j] || v1[j] != v2[j] {
			t.Fatalf("element %d: vector %v/%v/%v, scalar %v/%v/%v", j, w1[j], m1[j], v1[j], w2[j], m2[j], v2[j])
		}
	}
}

// TestGELUVectorMatchesScalar: the AVX GELU equals the Go loop bit for bit.
func TestGELUVectorMatchesScalar(t *testing.T) {
	t.Parallel()
	x := make([]float32, 203)
	Uniform(NewRNG(5), x, 12)
	x[0], x[1], x[2] = 0, 1e-5, -1e-5
	y1, t1 := make([]float32, len(x)), make([]float32, len(x))
	y2, t2 := make([]float32, len(x)), make([]float32, len(x))
	geluForward(x, y1, t1)
	gelu32(x, y2, t2)
	for i := range x {
		if math.Float32bits(y1[i]) != math.Float32bits(y2[i]) || math.Float32bits(t1[i]) != math.Float32bits(t2[i]) {
			t.Fatalf("x=%v: vector %v/%v, scalar %v/%v", x[i], y1[i], t1[i], y2[i], t2[i])
		}
		want := 0.5 * float64(x[i]) * (1 + math.Tanh(geluC*(float64(x[i])+geluA*math.Pow(float64(x[i]), 3))))
		if math.Abs(float64(y1[i])-want) > 1e-6*(1+math.Abs(want)) {
			t.Fatalf("GELU(%v) = %v, float64 %v", x[i], y1[i], want)
		}
	}
}

// TestRNGAhead: jumping ahead gives the sequential stream, so dropout
// masks drawn in parallel equal masks drawn in order.
func TestRNGAhead(t *testing.T) {
	t.Parallel()
	a, b := NewRNG(9), NewRNG(9)
	for i := 0; i < 5; i++ {
		if want, got := b.ahead(i), a.Uint64(); want != got {
			t.Fatalf("draw %d: ahead %x, sequential %x", i, want, got)
		}
	}
	b.skip(5)
	if a.Uint64() != b.Uint64() {
		t.Fatal("skip did not advance by the right amount")
	}
}

// TestLogSumExpTwoClasses checks the two-class shortcut against the
// direct formula, including extreme logits.
func TestLogSumExpTwoClasses(t *testing.T) {
	t.Parallel()
	for _, z := range [][2]float64{{0, 0}, {1, -2}, {-3, 5}, {700, -700}, {-1e-9, 1e-9}, {40, 40.5}} {
		p := make([]float64, 2)
		got := logSumExp(z[:], p)
		m := max(z[0], z[1])
		want := m + math.Log(math.Exp(z[0]-m)+math.Exp(z[1]-m))
		if math.Abs(got-want) > 1e-12*(1+math.Abs(want)) {
			t.Errorf("lse%v = %v, want %v", z, got, want)
		}
		for c := range p {
			if pw := math.Exp(z[c] - want); math.Abs(p[c]-pw) > 1e-12 {
				t.Errorf("p%v[%d] = %v, want %v", z, c, p[c], pw)
			}
		}
	}
}
