package nn

import (
	"math"
	"testing"
)

// TestFloat32LayerFollowsFloat64 runs one encoder layer forward and
// backward, dropout on everywhere, in float32 (the fast paths: blocked
// kernel, fused bias, kept packs of frozen weights, strided attention,
// vector softmax and dropout) and in float64 (gonum and the plain loops
// that the finite-difference checks cover), with the same weights and
// the same dropout decisions: outputs, input gradient and every tensor's
// gradient must agree to float32 precision. A second float32 step must
// give the same bits (the kept packs are right), and one after changing
// a frozen weight (with Touch) must follow the change.
func TestFloat32LayerFollowsFloat64(t *testing.T) {
	t.Parallel()
	off := []int{0, 37, 42, 92, 93, 113} // 37, 5, 50, 1 and 20 tokens
	for _, tc := range []struct {
		name  string
		preLN bool
		lora  bool
	}{{"post-LN lora", false, true}, {"post-LN top", false, false}, {"pre-LN top", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := LayerConfig{Hidden: 128, Heads: 4, Inter: 256, Eps: 1e-12, PreLN: tc.preLN, Act: GELUExact, HiddenDrop: 0.1, AttnDrop: 0.1}
			l32, _ := NewEncoderLayer[float32]("l.", cfg, NewRNG(7))
			l64, _ := NewEncoderLayer[float64]("l.", cfg, NewRNG(7))
			init := NewRNG(1)
			for i, p := range l64.Params() {
				Uniform(init, p.W, 0.15)
				if i == 8 || i == 14 { // LayerNorm γ near 1
					for j := range p.W {
						p.W[j] += 1
					}
				}
			}
			if tc.lora {
				// the same A and the same dropout streams in both precisions
				l64.Q.AddLoRA("l.attention.self.query", 8, 16, 0.1, NewRNG(3), NewRNG(9))
				l64.V.AddLoRA("l.attention.self.value", 8, 16, 0.1, NewRNG(4), NewRNG(10))
				l32.Q.AddLoRA("l.attention.self.query", 8, 16, 0.1, NewRNG(3), NewRNG(9))
				l32.V.AddLoRA("l.attention.self.value", 8, 16, 0.1, NewRNG(4), NewRNG(10))
				for _, p := range []*Proj[float64]{l64.Q, l64.V} {
					Uniform(init, p.LoRA.B.W, 0.3) // B starts at zero; make it count
				}
				l64.SetFrozen(true)
				l32.SetFrozen(true)
			}
			p32, p64 := l32.Params(), l64.Params()
			for i := range p64 {
				for j, v := range p64[i].W {
					p32[i].W[j] = float32(v)
				}
				p32[i].Touch()
			}
			l32.Off, l64.Off = off, off
			n := off[len(off)-1]
			x64, dy64 := randMat(NewRNG(5), n, 128), randMat(NewRNG(6), n, 128)
			x32, dy32 := NewMat[float32](n, 128), NewMat[float32](n, 128)
			for i := range x64.Data {
				x32.Data[i], dy32.Data[i] = float32(x64.Data[i]), float32(dy64.Data[i])
			}
			gens := []*RNG{l32.Attn.RNG}
			if tc.lora {
				gens = append(gens, l32.Q.LoRA.RNG, l32.V.LoRA.RNG)
			}
			var saved []RNG
			for _, g := range gens {
				saved = append(saved, *g)
			}
			seed := saved[0]
			step32 := func() (*Mat[float32], *Mat[float32]) {
				for i, g := range gens { // replay every dropout decision
					*g = saved[i]
				}
				ZeroGrad(p32)
				y := l32.Forward(x32, true)
				y = &Mat[float32]{Rows: y.Rows, Cols: y.Cols, Data: append([]float32(nil), y.Data...)}
				dx := l32.Backward(dy32, true)
				return y, &Mat[float32]{Rows: dx.Rows, Cols: dx.Cols, Data: append([]float32(nil), dx.Data...)}
			}
			y32, dx32 := step32()
			*l64.Attn.RNG = seed
			ZeroGrad(p64)
			y64 := l64.Forward(x64, true)
			dx64 := l64.Backward(dy64, true)
			near := func(what string, got []float32, want []float64) {
				scale := 0.0
				for _, v := range want {
					scale = math.Max(scale, math.Abs(v))
				}
				for i := range want {
					if d := math.Abs(float64(got[i]) - want[i]); d > 2e-4*scale+1e-7 {
						t.Fatalf("%s[%d]: float32 %v, float64 %v (scale %v)", what, i, got[i], want[i], scale)
					}
				}
			}
			near("output", y32.Data, y64.Data)
			near("dx", dx32.Data, dx64.Data)
			for i := range p64 {
				near(p64[i].Name+" grad", p32[i].G, p64[i].G)
			}
			// again: the same bits
			y2, dx2 := step32()
			for i := range y2.Data {
				if y2.Data[i] != y32.Data[i] {
					t.Fatalf("second step: output %d %v, first %v", i, y2.Data[i], y32.Data[i])
				}
			}
			for i := range dx2.Data {
				if dx2.Data[i] != dx32.Data[i] {
					t.Fatalf("second step: dx %d %v, first %v", i, dx2.Data[i], dx32.Data[i])
				}
			}
			if tc.lora { // a frozen weight changed and touched is not served stale
				l32.O.W.W[5] += 1
				l32.O.W.Touch()
				y3, _ := step32()
				same := true
				for i := range y3.Data {
					same = same && y3.Data[i] == y32.Data[i]
				}
				if same {
					t.Fatal("changing a frozen weight changed nothing: a stale pack was used")
				}
			}
		})
	}
}
