package nn

import (
	"fmt"
	"testing"
)

// The finite-difference checks of the encoder-layer operations, in
// float64 through the same generic code float32 training runs.

var testOff = []int{0, 3, 4, 9} // three sequences of 3, 1 and 5 tokens

// seqModule adapts a module over packed sequences to Module.
type seqModule struct {
	params  func() []*Param[float64]
	forward func(x *Mat[float64], train bool) *Mat[float64]
	back    func(dy *Mat[float64]) *Mat[float64]
}

func (m seqModule) Params() []*Param[float64]                      { return m.params() }
func (m seqModule) Forward(x *Mat[float64], t bool) *Mat[float64]  { return m.forward(x, t) }
func (m seqModule) Backward(d *Mat[float64], _ bool) *Mat[float64] { return m.back(d) }
func (m seqModule) Infer(x *Mat[float64]) *Mat[float64]            { return m.forward(x, false) }

// replay returns a before-hook that rewinds rng, so every Forward of a
// check draws the same dropout masks.
func replay(rng *RNG) func() {
	saved := *rng
	return func() { *rng = saved }
}

func randomize(rng *RNG, ps []*Param[float64], scale float64) {
	for _, p := range ps {
		Uniform(rng, p.W, scale)
	}
}

func TestGradLayerNorm(t *testing.T) {
	t.Parallel()
	l := NewLayerNorm[float64]("ln", 6, 1e-5)
	randomize(NewRNG(1), l.Params(), 1)
	gradCheck(t, l, randMat(NewRNG(2), 5, 6), true, nil)
}

func TestGradGELUExact(t *testing.T) {
	t.Parallel()
	x := randMat(NewRNG(3), 4, 7)
	for i := range x.Data {
		x.Data[i] *= 3
	}
	gradCheck(t, NewActivation[float64](GELUExact), x, true, nil)
}

func TestGradProjLoRA(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		frozen  bool
		dropout float64
	}{{"full", false, 0}, {"frozen base, lora dropout", true, 0.3}, {"lora no dropout", false, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := NewProj[float64]("p", 6, 5)
			init, drop := NewRNG(4), NewRNG(5)
			randomize(init, []*Param[float64]{p.W, p.B}, 0.5)
			p.AddLoRA("p", 3, 6, tc.dropout, init, drop)
			Uniform(init, p.LoRA.B.W, 0.5) // B starts at zero; make the check see it
			p.W.Frozen, p.B.Frozen = tc.frozen, tc.frozen
			var m Module[float64] = p
			if tc.frozen { // frozen params get no gradient: check the rest
				m = seqModule{params: func() []*Param[float64] { return []*Param[float64]{p.LoRA.A, p.LoRA.B} },
					forward: func(x *Mat[float64], tr bool) *Mat[float64] { return p.Forward(x, tr) },
					back:    func(d *Mat[float64]) *Mat[float64] { return p.Backward(d, true) }}
			}
			gradCheck(t, m, randMat(NewRNG(6), 7, 6), true, replay(drop))
			if tc.frozen {
				for _, v := range p.W.G {
					if v != 0 {
						t.Fatal("frozen weight got a gradient")
					}
				}
			}
		})
	}
}

func TestGradAttention(t *testing.T) {
	t.Parallel()
	for _, drop := range []float64{0, 0.25} {
		t.Run(fmt.Sprint("dropout ", drop), func(t *testing.T) {
			t.Parallel()
			const H = 6
			rng := NewRNG(7)
			a := &Attention[float64]{Heads: 2, Dropout: drop, RNG: rng}
			split := func(x *Mat[float64]) (q, k, v *Mat[float64]) {
				q, k, v = NewMat[float64](x.Rows, H), NewMat[float64](x.Rows, H), NewMat[float64](x.Rows, H)
				for i := 0; i < x.Rows; i++ {
					r := x.Row(i)
					copy(q.Row(i), r[:H])
					copy(k.Row(i), r[H:2*H])
					copy(v.Row(i), r[2*H:])
				}
				return
			}
			m := seqModule{params: func() []*Param[float64] { return nil },
				forward: func(x *Mat[float64], tr bool) *Mat[float64] {
					q, k, v := split(x)
					return a.Forward(q, k, v, testOff, tr)
				},
				back: func(d *Mat[float64]) *Mat[float64] {
					dq, dk, dv := a.Backward(d)
					dx := NewMat[float64](d.Rows, 3*H)
					for i := 0; i < d.Rows; i++ {
						r := dx.Row(i)
						copy(r[:H], dq.Row(i))
						copy(r[H:2*H], dk.Row(i))
						copy(r[2*H:], dv.Row(i))
					}
					return dx
				}}
			x := randMat(NewRNG(8), 9, 3*H)
			for i := range x.Data {
				x.Data[i] *= 2
			}
			gradCheck(t, m, x, true, replay(rng))
		})
	}
}

func TestGradPool(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ mean, norm bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("mean=%v normalize=%v", tc.mean, tc.norm), func(t *testing.T) {
			t.Parallel()
			pl := &Pool[float64]{Mean: tc.mean, Normalize: tc.norm}
			m := seqModule{params: func() []*Param[float64] { return nil },
				forward: func(x *Mat[float64], _ bool) *Mat[float64] { return pl.Forward(x, testOff) },
				back:    pl.Backward}
			gradCheck(t, m, randMat(NewRNG(9), 9, 4), true, nil)
		})
	}
}

// testLayer builds a small layer with random weights, LoRA on the given
// projections (indexes into Projs) with B random, and dropout p.
func testLayer(t *testing.T, pre bool, act ActKind, lora []int, p float64, seed uint64) (*EncoderLayer[float64], *RNG) {
	t.Helper()
	drop := NewRNG(seed + 100)
	c := LayerConfig{Hidden: 8, Heads: 2, Inter: 12, Eps: 1e-6, PreLN: pre, Act: act, HiddenDrop: p, AttnDrop: p}
	l, err := NewEncoderLayer[float64]("", c, drop)
	if err != nil {
		t.Fatal(err)
	}
	init := NewRNG(seed)
	for _, pr := range l.Params() {
		Uniform(init, pr.W, 0.4)
	}
	for _, ln := range []*LayerNorm[float64]{l.LN1, l.LN2} {
		for i := range ln.Weight.W {
			ln.Weight.W[i] += 1
		}
	}
	for _, i := range lora {
		pr := l.Projs()[i]
		pr.AddLoRA(pr.W.Name[:len(pr.W.Name)-len(".weight")], 2, 4, p, init, drop)
		Uniform(init, pr.LoRA.B.W, 0.4)
	}
	l.Off = testOff
	return l, drop
}

func TestGradEncoderLayer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		pre    bool
		act    ActKind
		lora   []int
		frozen bool
		p      float64
	}{
		{"post_ln gelu full", false, GELUExact, nil, false, 0},
		{"post_ln gelu dropout", false, GELUExact, nil, false, 0.2},
		{"post_ln lora q,v frozen base dropout", false, GELUExact, []int{0, 2}, true, 0.2},
		{"post_ln lora all six trainable base", false, GELU, []int{0, 1, 2, 3, 4, 5}, false, 0},
		{"pre_ln relu full dropout", true, ReLU, nil, false, 0.2},
		{"pre_ln lora q,v frozen", true, GELUExact, []int{0, 2}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, drop := testLayer(t, tc.pre, tc.act, tc.lora, tc.p, 11)
			var m Module[float64] = l
			if tc.frozen {
				l.SetFrozen(true)
				m = seqModule{params: func() []*Param[float64] { return l.Params()[len(LayerTensorNames):] },
					forward: l.Forward, back: func(d *Mat[float64]) *Mat[float64] { return l.Backward(d, true) }}
			}
			gradCheck(t, m, randMat(NewRNG(12), 9, 8), true, replay(drop))
		})
	}
}

func TestGradTailNet(t *testing.T) {
	t.Parallel()
	l0, drop := testLayer(t, false, GELUExact, []int{0, 2}, 0.1, 21)
	l1, _ := testLayer(t, false, GELUExact, []int{0, 2}, 0.1, 22)
	l1.Attn.RNG, l1.Drop1.RNG, l1.Drop2.RNG = drop, drop, drop
	for _, pr := range l1.Projs() {
		if pr.LoRA != nil {
			pr.LoRA.RNG = drop
		}
	}
	n := &TailNet[float64]{Layers: []*EncoderLayer[float64]{l0, l1}, Pool: &Pool[float64]{Mean: true, Normalize: true}}
	m := seqModule{params: n.Params,
		forward: func(x *Mat[float64], tr bool) *Mat[float64] { return n.Forward(x, testOff, tr) },
		back: func(d *Mat[float64]) *Mat[float64] {
			n.Backward(d)
			return nil
		}}
	gradCheckParams(t, m, randMat(NewRNG(23), 9, 8), replay(drop))
}
