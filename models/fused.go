package models

import (
	"github.com/bertserve/bertserve/models/onnx"
)

// msDomain is ONNX Runtime's contrib operator domain.
const msDomain = "com.microsoft"

// fusedLayer is layer written with ONNX Runtime contrib ops: one
// Attention node (packed QKV projection, scaled dot-product attention
// with the 0/1 mask, head merge) and SkipLayerNormalization for each
// residual + bias + LayerNorm. mask_filter_value is float32-min, the value
// transformers adds, so fully padded rows come out the same as in the
// standard layout.
func (b *builder) fusedLayer(i int, x string) string {
	g, cfg := b.g, b.cfg
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	n := layerParamNames(cfg.Family(), i)
	if b.maskI32 == "" {
		b.maskI32 = g.OpWith("Cast", []string{InputMask}, onnx.AttrInt("to", int64(onnx.Int32)))
	}
	// Pack Wq, Wk, Wv ([in, out] each) side by side into [H, 3H].
	wqkv := make([]float32, H*3*H)
	bqkv := make([]float32, 0, 3*H)
	for j, name := range []string{n.q, n.k, n.v} {
		w, bias, err := b.ws.linear(name, H, H)
		if err != nil {
			b.err = err
			return x
		}
		for r := 0; r < H; r++ {
			copy(wqkv[r*3*H+j*H:r*3*H+(j+1)*H], w[r*H:(r+1)*H])
		}
		bqkv = append(bqkv, bias...)
	}
	wn := g.InitFloat(n.q+".qkv_packed.weight.T", []int64{int64(H), int64(3 * H)}, wqkv)
	bn := g.InitFloat(n.q+".qkv_packed.bias", []int64{int64(3 * H)}, bqkv)
	att := g.Fresh("Attention")
	g.AddNode(onnx.Node{
		OpType: "Attention", Domain: msDomain, Name: att,
		Inputs:  []string{x, wn, bn, b.maskI32},
		Outputs: []string{att},
		Attrs: []onnx.Attr{
			onnx.AttrInt("num_heads", int64(cfg.NumHeads)),
			onnx.AttrFloat("mask_filter_value", maskFillFloat),
		},
	})
	x = b.skipLayerNorm(n.o, n.ln1, att, x, H, H)
	ff := b.activation(b.dense(n.ff1, x, H, I))
	return b.skipLayerNorm(n.ff2, n.ln2, ff, x, I, H)
}

// skipLayerNorm is LayerNorm(x·W + bias + skip) for the Linear layer
// dense and the LayerNorm ln, as one SkipLayerNormalization node.
func (b *builder) skipLayerNorm(dense, ln, x, skip string, in, out int) string {
	g := b.g
	wt, bias, err := b.ws.linear(dense, in, out)
	if err != nil {
		b.err = err
		return x
	}
	w := g.InitFloat(dense+".weight.T", []int64{int64(in), int64(out)}, wt)
	bn := g.InitFloat(dense+".bias", []int64{int64(out)}, bias)
	gamma := b.param(ln+".weight", out)
	beta := b.param(ln+".bias", out)
	if b.err != nil {
		return x
	}
	y := g.Fresh("SkipLayerNormalization")
	g.AddNode(onnx.Node{
		OpType: "SkipLayerNormalization", Domain: msDomain, Name: y,
		Inputs:  []string{g.Op("MatMul", x, w), skip, gamma, beta, bn},
		Outputs: []string{y},
		Attrs:   []onnx.Attr{onnx.AttrFloat("epsilon", float32(b.cfg.LayerNormEps))},
	})
	return y
}
