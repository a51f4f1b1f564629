package uselite

import (
	"fmt"

	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/onnx"
	"github.com/bertserve/bertserve/models/safetensors"
)

// BottomOutput is the bottom graph's output: the hidden state below
// layer 1, [batch, sequence, 512].
const BottomOutput = models.OutputBottom

// SplitLayer is where USE-lite can be split: its first layer widens 256
// to 512 dimensions with a projection on the residual, which is not a
// standard transformer layer, so only layer 1 (the top one) can be
// trained.
const SplitLayer = 1

// BuildBottom builds the USE-lite graph up to the split: inputs as
// BuildGraph's, output hidden_states [batch, sequence, 512], the input of
// layer 1 (values at padded positions are not meaningful).
func BuildBottom(m *TFJSModel) (*onnx.Graph, error) { return buildGraph(m, true) }

// Tail returns USE-lite's top layer with its pooling in the canonical
// form of models.Tail: a pre-LN layer (LayerNorm, 4-head self-attention
// with the fused QKV kernel split into query, key and value, residual;
// LayerNorm, ReLU feed-forward, residual), mean over real tokens, the
// tanh layer as a "tanh" pooler, and L2 normalisation. Linear weights
// are transposed from TF's [in, out] to [out, in].
func Tail(m *TFJSModel) (*models.Tail, error) {
	b := &builder{m: m}
	const H, I = Dim, 1536
	eps := b.scalarFloat(wLNEpsilon)
	heads := int(b.int32s(wNumHeads)[0])
	n := layerWeights(SplitLayer)
	t := &models.Tail{
		Spec: models.TailSpec{
			Layout: models.LayoutPreLN, Hidden: H, Heads: heads, Intermediate: I,
			LayerNormEps: float64(eps), Activation: "relu",
			FirstLayer: SplitLayer, NumLayers: 2 - SplitLayer, TotalLayers: 2,
			Pooling: "mean", Pooler: "tanh", Normalize: true,
		},
		Tensors: map[string]safetensors.Tensor{},
	}
	vec := func(name string, src []float32) {
		t.Tensors[name] = safetensors.Tensor{Shape: []int{len(src)}, Data: append([]float32(nil), src...)}
	}
	// linear stores columns [c0, c0+out) of an [in, cols] kernel as an
	// [out, in] weight.
	linear := func(name string, k []float32, in, cols, c0, out int) {
		w := make([]float32, out*in)
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				w[o*in+i] = k[i*cols+c0+o]
			}
		}
		t.Tensors[name] = safetensors.Tensor{Shape: []int{out, in}, Data: w}
	}
	get := func(name string, shape ...int) []float32 {
		if tt := b.tensor(name, "float32", shape...); tt != nil {
			return tt.Float32
		}
		return make([]float32, prod(shape))
	}
	L := func(name string) string { return models.TailLayerName(0, name) }
	qkv, qkvB := get(n.qkvW, 1, 1, H, 3*H), get(n.qkvB, 3*H)
	for i, p := range []string{"query", "key", "value"} {
		linear(L("attention.self."+p+".weight"), qkv, H, 3*H, i*H, H)
		vec(L("attention.self."+p+".bias"), qkvB[i*H:(i+1)*H])
	}
	linear(L("attention.output.dense.weight"), get(n.outW, 1, 1, H, H), H, H, 0, H)
	vec(L("attention.output.dense.bias"), get(n.outB, H))
	vec(L("attention.output.LayerNorm.weight"), get(n.attnGamma, H))
	vec(L("attention.output.LayerNorm.bias"), get(n.attnBeta, H))
	linear(L("intermediate.dense.weight"), get(n.ffn1W, H, I), H, I, 0, I)
	vec(L("intermediate.dense.bias"), get(n.ffn1B, I))
	linear(L("output.dense.weight"), get(n.ffn2W, I, H), I, H, 0, H)
	vec(L("output.dense.bias"), get(n.ffn2B, H))
	vec(L("output.LayerNorm.weight"), get(n.ffnGamma, H))
	vec(L("output.LayerNorm.bias"), get(n.ffnBeta, H))
	linear(models.TailPoolerWeight, get(wTanhW, H, Dim), H, Dim, 0, Dim)
	vec(models.TailPoolerBias, get(wTanhB, Dim))
	if b.err != nil {
		return nil, b.err
	}
	if heads*int(b.int32s(n.headDim)[0]) != H {
		return nil, fmt.Errorf("USE-lite layer %d has %d heads of %d, not %d wide", SplitLayer, heads, b.int32s(n.headDim)[0], H)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
