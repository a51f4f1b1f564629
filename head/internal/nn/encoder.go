package nn

import "fmt"

// LayerConfig fixes the shape and behaviour of a transformer layer.
type LayerConfig struct {
	Hidden, Heads, Inter int
	Eps                  float64
	// PreLN: x + f(LN(x)) (USE-lite); otherwise LN(x + f(x)) (BERT).
	PreLN bool
	// Act is the FFN activation: GELUExact, GELU (tanh) or ReLU.
	Act ActKind
	// HiddenDrop follows the attention output and the FFN output (before
	// the residual sum), AttnDrop the attention probabilities, as in
	// BERT's BertSelfOutput, BertOutput and BertSelfAttention.
	HiddenDrop, AttnDrop float64
}

// EncoderLayer is one transformer encoder layer over packed sequences
// (rows Off[s]..Off[s+1]-1 are sequence s; set Off before Forward).
// Tensor names follow BERT's, so weights load and save by name.
type EncoderLayer[T Float] struct {
	Cfg                 LayerConfig
	Q, K, V, O, I, Out  *Proj[T]
	LN1, LN2            *LayerNorm[T]
	Attn                *Attention[T]
	Act                 *Activation[T]
	Drop1, Drop2        *Dropout[T]
	Off                 []int
	x, h1, sum          *Mat[T]
	dx, dh, dqkv, dtemp *Mat[T]
}

// LayerTensorNames lists an EncoderLayer's tensors in BERT's names
// relative to the layer, in Params order (without LoRA tensors).
var LayerTensorNames = []string{
	"attention.self.query.weight", "attention.self.query.bias",
	"attention.self.key.weight", "attention.self.key.bias",
	"attention.self.value.weight", "attention.self.value.bias",
	"attention.output.dense.weight", "attention.output.dense.bias",
	"attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
	"intermediate.dense.weight", "intermediate.dense.bias",
	"output.dense.weight", "output.dense.bias",
	"output.LayerNorm.weight", "output.LayerNorm.bias",
}

// NewEncoderLayer returns a layer with zero weights named prefix+BERT
// names; dropout masks come from rng.
func NewEncoderLayer[T Float](prefix string, c LayerConfig, rng *RNG) (*EncoderLayer[T], error) {
	if c.Hidden < 1 || c.Heads < 1 || c.Hidden%c.Heads != 0 || c.Inter < 1 {
		return nil, fmt.Errorf("layer: hidden %d, heads %d, intermediate %d do not fit (hidden must be a multiple of heads)", c.Hidden, c.Heads, c.Inter)
	}
	H, I := c.Hidden, c.Inter
	l := &EncoderLayer[T]{Cfg: c,
		Q:     NewProj[T](prefix+"attention.self.query", H, H),
		K:     NewProj[T](prefix+"attention.self.key", H, H),
		V:     NewProj[T](prefix+"attention.self.value", H, H),
		O:     NewProj[T](prefix+"attention.output.dense", H, H),
		LN1:   NewLayerNorm[T](prefix+"attention.output.LayerNorm", H, c.Eps),
		I:     NewProj[T](prefix+"intermediate.dense", H, I),
		Out:   NewProj[T](prefix+"output.dense", I, H),
		LN2:   NewLayerNorm[T](prefix+"output.LayerNorm", H, c.Eps),
		Attn:  &Attention[T]{Heads: c.Heads, Dropout: c.AttnDrop, RNG: rng},
		Act:   NewActivation[T](c.Act),
		Drop1: NewDropout[T](c.HiddenDrop, rng), Drop2: NewDropout[T](c.HiddenDrop, rng)}
	l.K.ZeroBiasGrad = true
	return l, nil
}

// Projs returns the six projections: query, key, value, attention
// output, intermediate, output.
func (l *EncoderLayer[T]) Projs() []*Proj[T] { return []*Proj[T]{l.Q, l.K, l.V, l.O, l.I, l.Out} }

// Params returns every tensor (frozen ones included), in
// LayerTensorNames order, then the LoRA tensors.
func (l *EncoderLayer[T]) Params() []*Param[T] {
	ps := []*Param[T]{l.Q.W, l.Q.B, l.K.W, l.K.B, l.V.W, l.V.B, l.O.W, l.O.B,
		l.LN1.Weight, l.LN1.Bias, l.I.W, l.I.B, l.Out.W, l.Out.B, l.LN2.Weight, l.LN2.Bias}
	for _, p := range l.Projs() {
		if p.LoRA != nil {
			ps = append(ps, p.LoRA.A, p.LoRA.B)
		}
	}
	return ps
}

// SetFrozen freezes or unfreezes the base tensors (not the LoRA ones).
func (l *EncoderLayer[T]) SetFrozen(frozen bool) {
	for _, p := range l.Params()[:len(LayerTensorNames)] {
		p.Frozen = frozen
	}
}

func addInto[T Float](dst, a, b *Mat[T]) *Mat[T] {
	dst = reuse(dst, a.Rows, a.Cols)
	parallelFor(len(a.Data), func(lo, hi int) {
		d, x, y := dst.Data[lo:hi], a.Data[lo:hi], b.Data[lo:hi]
		for i := range d {
			d[i] = x[i] + y[i]
		}
	})
	return dst
}

func addTo[T Float](dst, a *Mat[T]) {
	parallelFor(len(a.Data), func(lo, hi int) {
		d, x := dst.Data[lo:hi], a.Data[lo:hi]
		for i := range d {
			d[i] += x[i]
		}
	})
}

// Forward runs the layer on packed rows x [n, H]; x must stay unchanged
// until Backward.
func (l *EncoderLayer[T]) Forward(x *Mat[T], train bool) *Mat[T] {
	l.x = x
	in := x
	if l.Cfg.PreLN {
		in = l.LN1.Forward(x, train)
	}
	ctx := l.Attn.Forward(l.Q.Forward(in, train), l.K.Forward(in, train), l.V.Forward(in, train), l.Off, train)
	a := l.Drop1.Forward(l.O.Forward(ctx, train), train)
	l.sum = addInto(l.sum, x, a)
	h1 := l.sum
	if !l.Cfg.PreLN {
		h1 = l.LN1.Forward(l.sum, train)
	}
	l.h1 = h1
	in2 := h1
	if l.Cfg.PreLN {
		in2 = l.LN2.Forward(h1, train)
	}
	o := l.Drop2.Forward(l.Out.Forward(l.Act.Forward(l.I.Forward(in2, train), train), train), train)
	if l.Cfg.PreLN {
		l.dtemp = addInto(l.dtemp, h1, o) // the output; dtemp is free until Backward
		return l.dtemp
	}
	l.dh = addInto(l.dh, h1, o)
	return l.LN2.Forward(l.dh, train)
}

// Infer runs the layer in evaluation mode on sequences Off, touching no
// cache.
func (l *EncoderLayer[T]) Infer(x *Mat[T]) *Mat[T] { return l.inferOff(x, l.Off) }

func (l *EncoderLayer[T]) inferOff(x *Mat[T], off []int) *Mat[T] {
	in := x
	if l.Cfg.PreLN {
		in = l.LN1.Infer(x)
	}
	ctx := l.Attn.Infer(l.Q.Infer(in), l.K.Infer(in), l.V.Infer(in), off)
	h1 := addInto(nil, x, l.O.Infer(ctx))
	if !l.Cfg.PreLN {
		h1 = l.LN1.Infer(h1)
	}
	in2 := h1
	if l.Cfg.PreLN {
		in2 = l.LN2.Infer(h1)
	}
	o := l.Out.Infer(l.Act.Infer(l.I.Infer(in2)))
	if l.Cfg.PreLN {
		return addInto(nil, h1, o)
	}
	return l.LN2.Infer(addInto(nil, h1, o))
}

// Backward takes dy = ∂L/∂output, adds the gradients of the trainable
// tensors, and returns ∂L/∂x when needDX is set.
func (l *EncoderLayer[T]) Backward(dy *Mat[T], needDX bool) *Mat[T] {
	pre := l.Cfg.PreLN
	// FFN block: out = LN2(h1 + o) or h1 + o with o = drop(Out(act(I(in2)))).
	dsum := dy
	if !pre {
		dsum = l.LN2.Backward(dy, true)
	}
	din2 := l.I.Backward(l.Act.Backward(l.Out.Backward(l.Drop2.Backward(dsum, true), true), true), true)
	if pre {
		din2 = l.LN2.Backward(din2, true)
	}
	// dh1 = dsum + din2
	l.dh = addInto(l.dh, dsum, din2)
	// attention block: h1 = LN1(x + a) or x + a with a = drop(O(attn(in))).
	da := l.dh
	if !pre {
		da = l.LN1.Backward(l.dh, true)
	}
	// the residual path carries da (post-LN) or dh1 (pre-LN) to x.
	dres := da
	if pre {
		dres = l.dh
	}
	dctx := l.O.Backward(l.Drop1.Backward(da, true), true)
	// pre-LN: LN1's γ and β need the gradient of its output even when x
	// needs none.
	needIn := needDX || (pre && !l.LN1.Weight.Frozen)
	// Q, K, V need their output gradient for the input gradient or for
	// their own trainable tensors; otherwise it is not computed at all.
	dq, dk, dv := l.Attn.BackwardSome(dctx, needIn || l.Q.Trainable(), needIn || l.K.Trainable(), needIn || l.V.Trainable())
	var dIn, dK, dV *Mat[T]
	if dq != nil {
		dIn = l.Q.Backward(dq, needIn)
	}
	if dk != nil {
		dK = l.K.Backward(dk, needIn)
	}
	if dv != nil {
		dV = l.V.Backward(dv, needIn)
	}
	if !needIn {
		return nil
	}
	l.dqkv = addInto(l.dqkv, dIn, dK)
	addTo(l.dqkv, dV)
	if pre {
		dn := l.LN1.Backward(l.dqkv, needDX)
		if !needDX {
			return nil
		}
		l.dx = addInto(l.dx, dres, dn)
		return l.dx
	}
	l.dx = addInto(l.dx, dres, l.dqkv)
	return l.dx
}
