package models

import (
	"fmt"
	"math"
	"strings"

	"github.com/bertserve/bertserve/models/onnx"
)

// TailGraphOptions choose what a tail graph outputs besides the pooled
// sentence_embedding.
type TailGraphOptions struct {
	// HiddenOutput also outputs the last layer's hidden states (after the
	// final LayerNorm, if any) as last_hidden_state [batch, sequence,
	// hidden], so a caller can pool them itself.
	HiddenOutput bool
	// NoPooling leaves the pooling out: the graph outputs
	// last_hidden_state only (a segment in the middle of an encoder).
	NoPooling bool
	// Name is the graph's name ("tail" when empty).
	Name string
}

// BuildTail writes the ONNX graph (opset 17) of a tail: inputs
// hidden_states float32 [batch, sequence, hidden] (the hidden state below
// layer k, right-padded) and attention_mask int64 [batch, sequence];
// output sentence_embedding float32 [batch, hidden], pooled over the real
// tokens as the spec says. Post-LN layers are the very nodes Build writes
// for the full encoder, so the bottom graph followed by the tail computes
// what the full graph computes.
func BuildTail(t *Tail, opt TailGraphOptions) (*onnx.Model, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	s := t.Spec
	act := s.Activation
	cfg := &Config{
		ModelType: "bert", HiddenSize: s.Hidden, NumLayers: s.NumLayers, NumHeads: s.Heads,
		IntermediateSize: s.Intermediate, HiddenAct: act, LayerNormEps: s.LayerNormEps,
	}
	// The builder reads layer weights under BERT's Hugging Face names.
	w := Weights{}
	for name, ts := range t.Tensors {
		if rest, ok := strings.CutPrefix(name, "layer."); ok {
			name = "encoder.layer." + rest
		}
		w[name] = ts
	}
	name := opt.Name
	if name == "" {
		name = "tail"
	}
	b := &builder{cfg: cfg, ws: &weightSet{t: w}, g: onnx.NewGraph(name)}
	g := b.g
	H := int64(s.Hidden)
	h := g.Input(TailInputHidden, onnx.Float, onnx.Sym(dimBatch), onnx.Sym(dimSequence), onnx.Dim(H))
	mask := g.Input(TailInputMask, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	ext := b.extendedMask(mask)
	for j := 0; j < s.NumLayers; j++ {
		if s.Layout == LayoutPreLN {
			h = b.layerPreLN(j, h, ext)
		} else {
			h = b.layer(j, h, ext)
		}
	}
	if s.FinalLayerNorm {
		h = b.layerNorm("final.LayerNorm", h)
	}
	if b.err != nil {
		return nil, b.err
	}
	var outputs []string
	if opt.HiddenOutput || opt.NoPooling {
		h = g.Rename(h, OutputHidden)
		g.Output(h, onnx.Float, onnx.Sym(dimBatch), onnx.Sym(dimSequence), onnx.Dim(H))
		outputs = append(outputs, OutputHidden)
	}
	if !opt.NoPooling {
		p := b.pool(h, mask, s.Pooling)
		if s.Pooler == "tanh" {
			p = g.Op("Tanh", b.dense(poolerName, p, s.Hidden, s.Hidden))
		}
		if s.Normalize {
			sq := g.OpWith("ReduceSum", []string{g.Op("Mul", p, p), g.Ints(-1)}, onnx.AttrInt("keepdims", 1))
			p = g.Op("Div", p, g.Op("Max", g.Op("Sqrt", sq), g.ScalarFloat(1e-12)))
		}
		if b.err != nil {
			return nil, b.err
		}
		g.Output(g.Rename(p, TailOutput), onnx.Float, onnx.Sym(dimBatch), onnx.Dim(H))
		outputs = append(outputs, TailOutput)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("building the tail graph: %w", err)
	}
	m := onnx.NewModel(g)
	m.ProducerName = producerString
	m.DocString = fmt.Sprintf("tail: layers %d..%d of %d (%s, hidden %d, %d heads, intermediate %d, %s), pooling %s%s%s; outputs %v",
		s.FirstLayer, s.FirstLayer+s.NumLayers-1, s.TotalLayers, s.Layout, s.Hidden, s.Heads, s.Intermediate, s.Activation,
		s.Pooling, map[bool]string{true: " + tanh pooler"}[s.Pooler == "tanh"], map[bool]string{true: ", L2-normalised"}[s.Normalize], outputs)
	return m, nil
}

// pool reduces [batch, sequence, hidden] to [batch, hidden]: the first
// token (cls) or the mean over real tokens (mean).
func (b *builder) pool(h, mask, pooling string) string {
	g := b.g
	if pooling == "cls" {
		return g.OpWith("Gather", []string{h, g.ScalarInt64(0)}, onnx.AttrInt("axis", 1))
	}
	maskF := g.OpWith("Cast", []string{mask}, onnx.AttrInt("to", int64(onnx.Float)))
	m3 := g.Op("Unsqueeze", maskF, g.Ints(2))
	sum := g.OpWith("ReduceSum", []string{g.Op("Mul", h, m3), g.Ints(1)}, onnx.AttrInt("keepdims", 0))
	count := g.OpWith("ReduceSum", []string{maskF, g.Ints(1)}, onnx.AttrInt("keepdims", 1))
	return g.Op("Div", sum, g.Op("Max", count, g.ScalarFloat(1)))
}

// layerPreLN is one pre-LayerNorm transformer block (USE-lite's layout)
// with the tail's canonical names: x = x + Attn(LN1(x)); x = x +
// FFN(LN2(x)), LN1 = attention.output.LayerNorm, LN2 = output.LayerNorm.
func (b *builder) layerPreLN(i int, x, ext string) string {
	if b.err != nil {
		return x
	}
	g, cfg := b.g, b.cfg
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	nh, hd := int64(cfg.NumHeads), int64(cfg.HeadDim())
	n := layerParamNames(FamilyBERT, i)

	y := b.layerNorm(n.ln1, x)
	heads := g.Ints(0, 0, nh, hd)
	split := func(name string, perm ...int64) string {
		return g.OpWith("Transpose", []string{g.Op("Reshape", b.dense(name, y, H, H), heads)}, onnx.AttrInts("perm", perm...))
	}
	q := split(n.q, 0, 2, 1, 3)
	k := split(n.k, 0, 2, 3, 1)
	v := split(n.v, 0, 2, 1, 3)
	scores := g.Op("Div", g.Op("MatMul", q, k), g.ScalarFloat(float32(math.Sqrt(float64(hd)))))
	probs := g.OpWith("Softmax", []string{g.Op("Add", scores, ext)}, onnx.AttrInt("axis", -1))
	ctx := g.OpWith("Transpose", []string{g.Op("MatMul", probs, v)}, onnx.AttrInts("perm", 0, 2, 1, 3))
	ctx = g.Op("Reshape", ctx, g.Ints(0, 0, int64(H)))
	x = g.Op("Add", x, b.dense(n.o, ctx, H, H))

	y = b.layerNorm(n.ln2, x)
	ff := b.dense(n.ff2, b.activation(b.dense(n.ff1, y, H, I)), I, H)
	return g.Op("Add", x, ff)
}
