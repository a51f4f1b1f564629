package models

import (
	"fmt"
	"math"

	"github.com/bertserve/bertserve/models/onnx"
)

// Graph input and output names, as Hugging Face and optimum export them.
const (
	InputIDs       = "input_ids"
	InputMask      = "attention_mask"
	InputTypeIDs   = "token_type_ids"
	OutputHidden   = "last_hidden_state"
	OutputPooler   = "pooler_output"
	dimBatch       = "batch"
	dimSequence    = "sequence"
	maskFillFloat  = -math.MaxFloat32 // torch.finfo(torch.float32).min, as transformers uses
	graphNameFmt   = "%s_encoder"
	producerString = "bertserve models.Build"
)

// Built is an encoder graph ready to be written, with its interface.
type Built struct {
	Model   *onnx.Model
	Inputs  []string
	Outputs []string
	// HasPooler reports whether pooler_output is an output: the weights
	// held pooler.dense and the family has a pooler.
	HasPooler bool
	// calibSites and calibOut are, for Calibrate's probe graph, the
	// quantized inputs and the outputs that carry them.
	calibSites []string
	calibOut   map[string]string
}

// BuildONNX builds the encoder graph for cfg from Hugging Face weights and
// returns the encoded ONNX model. See Build.
func BuildONNX(cfg *Config, weights Weights) ([]byte, error) {
	b, err := Build(cfg, weights)
	if err != nil {
		return nil, err
	}
	return b.Model.Marshal()
}

// Build assembles the ONNX graph of a BERT-family encoder (opset 17) from
// weights named as in Hugging Face checkpoints, with or without a model
// prefix ("bert.", "roberta.", "distilbert."). Inputs are input_ids,
// attention_mask and, for BERT models with token types, token_type_ids
// (int64 [batch, sequence]); outputs are last_hidden_state
// [batch, sequence, hidden] and, when the checkpoint has pooler.dense,
// pooler_output [batch, hidden] = tanh(dense(h[:, 0])).
//
// The graph follows transformers' modeling code operation by operation
// (the additive mask is (1 - mask)·float32-min, GELU is the exact erf
// form) and is laid out the way ONNX Runtime's optimizer recognizes:
// MatMul on pre-transposed [in, out] weights then Add bias, Div·Erf·Add·
// Mul·Mul GELU (fused by ONNX Runtime into BiasGelu), Add +
// LayerNormalization residuals, 1/√d folded by ONNX Runtime into the score
// MatMul. Only standard opset-17 ops are used: writing the layers as ONNX
// Runtime's contrib Attention and SkipLayerNormalization instead (which
// its optimizer cannot do itself when the sequence length is dynamic) was
// measured 3-10% slower on a 16-core Xeon for a MiniLM-L6-H384 shape, so
// the portable form is also the fast one.
func Build(cfg *Config, weights Weights) (*Built, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ws, err := newWeightSet(weights)
	if err != nil {
		return nil, err
	}
	fam := cfg.Family()
	b := &builder{cfg: cfg, ws: ws, g: onnx.NewGraph(fmt.Sprintf(graphNameFmt, cfg.ModelType))}
	hasPooler := fam != FamilyDistilBERT && ws.has(poolerName+".weight")
	if fam != FamilyDistilBERT && !hasPooler && ws.has(poolerName+".bias") {
		return nil, fmt.Errorf("checkpoint has %q but no %q", ws.prefix+poolerName+".bias", ws.prefix+poolerName+".weight")
	}

	g := b.g
	ids := g.Input(InputIDs, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	mask := g.Input(InputMask, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	var types string
	if cfg.HasTokenTypes() {
		types = g.Input(InputTypeIDs, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	}
	h := b.embeddings(ids, types)
	ext := b.extendedMask(mask)
	for i := 0; i < cfg.NumLayers; i++ {
		h = b.layer(i, h, ext)
	}
	if b.err != nil {
		return nil, b.err
	}
	out := &Built{Inputs: []string{InputIDs, InputMask}, HasPooler: hasPooler}
	if types != "" {
		out.Inputs = append(out.Inputs, InputTypeIDs)
	}
	if err := b.outputs(h, hasPooler, out); err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("building %s graph: %w", cfg.ModelType, err)
	}
	m := onnx.NewModel(g)
	m.ProducerName = producerString
	m.DocString = fmt.Sprintf("%s encoder: %d layers, hidden %d, %d heads, intermediate %d, vocab %d",
		cfg.ModelType, cfg.NumLayers, cfg.HiddenSize, cfg.NumHeads, cfg.IntermediateSize, cfg.VocabSize)
	out.Model = m
	return out, nil
}

// outputs names the last hidden state h and, where the checkpoint has a
// pooler, adds it (tanh of a dense layer over the first token): the end
// of every encoder graph the builders write, plain, fused or int8.
func (b *builder) outputs(h string, hasPooler bool, out *Built) error {
	g, H := b.g, int64(b.cfg.HiddenSize)
	h = g.Rename(h, OutputHidden)
	g.Output(h, onnx.Float, onnx.Sym(dimBatch), onnx.Sym(dimSequence), onnx.Dim(H))
	out.Outputs = []string{OutputHidden}
	if hasPooler {
		first := g.OpWith("Gather", []string{h, g.ScalarInt64(0)}, onnx.AttrInt("axis", 1))
		p := g.Op("Tanh", b.dense(poolerName, first, b.cfg.HiddenSize, b.cfg.HiddenSize))
		if b.err != nil {
			return b.err
		}
		g.Output(g.Rename(p, OutputPooler), onnx.Float, onnx.Sym(dimBatch), onnx.Dim(H))
		out.Outputs = append(out.Outputs, OutputPooler)
	}
	return nil
}

// builder carries the graph under construction and the first error met.
type builder struct {
	cfg *Config
	ws  *weightSet
	g   *onnx.Graph
	err error
	q   *quantState // nil for float32 builds
	// fused writes ONNX Runtime's fused operators (BuildOptions.Fused).
	fused bool
}

// param adds the tensor called name as an initializer and returns its
// graph name ("" after an error, which Build reports).
func (b *builder) param(name string, shape ...int) string {
	data, err := b.ws.get(name, shape...)
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		return ""
	}
	return b.g.InitFloat(name, dims(shape), data)
}

func dims(shape []int) []int64 {
	d := make([]int64, len(shape))
	for i, v := range shape {
		d[i] = int64(v)
	}
	return d
}

// dense is x·Wᵀ + b for the Linear layer called name, with W stored
// transposed so MatMul reads it as [in, out].
func (b *builder) dense(name, x string, in, out int) string {
	wt, bias, err := b.ws.linear(name, in, out)
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		return x
	}
	w := b.g.InitFloat(name+".weight.T", []int64{int64(in), int64(out)}, wt)
	bn := b.g.InitFloat(name+".bias", []int64{int64(out)}, bias)
	return b.g.Op("Add", b.g.Op("MatMul", x, w), bn)
}

// layerNorm normalizes x over the hidden axis with the LayerNorm called
// name.
func (b *builder) layerNorm(name, x string) string {
	H := b.cfg.HiddenSize
	gamma := b.param(name+".weight", H)
	beta := b.param(name+".bias", H)
	if b.err != nil {
		return x
	}
	return b.g.OpWith("LayerNormalization", []string{x, gamma, beta},
		onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", float32(b.cfg.LayerNormEps)))
}

// embeddings sums the word, token-type and position embeddings and
// normalizes them, returning [batch, sequence, hidden].
func (b *builder) embeddings(ids, types string) string {
	g, cfg := b.g, b.cfg
	H := cfg.HiddenSize
	fam := cfg.Family()
	word := b.param(wordEmbName, cfg.VocabSize, H)
	if b.err != nil {
		return ""
	}
	h := g.Op("Gather", word, ids)

	posData, err := b.ws.get(posEmbName, cfg.MaxPositions, H)
	if err != nil {
		b.err = err
		return ""
	}
	if fam != FamilyDistilBERT && types == "" {
		// One token type (RoBERTa): every token adds row 0 of the
		// token-type table, so fold it into the position table.
		tt, err := b.ws.get(typeEmbName, cfg.TypeVocabSize, H)
		if err != nil {
			b.err = err
			return ""
		}
		folded := make([]float32, len(posData))
		for p := 0; p < cfg.MaxPositions; p++ {
			for j := 0; j < H; j++ {
				folded[p*H+j] = posData[p*H+j] + tt[j]
			}
		}
		posData = folded
	}
	if types != "" {
		tt := b.param(typeEmbName, cfg.TypeVocabSize, H)
		h = g.Op("Add", h, g.Op("Gather", tt, types))
	}
	pos := g.InitFloat(posEmbName, []int64{int64(cfg.MaxPositions), int64(H)}, posData)
	if fam == FamilyRoBERTa {
		// transformers' create_position_ids_from_input_ids:
		// cumsum(ids != pad) * (ids != pad) + pad.
		notPad := g.OpWith("Cast", []string{g.Op("Not", g.Op("Equal", ids, g.ScalarInt64(int64(cfg.PadTokenID))))},
			onnx.AttrInt("to", int64(onnx.Int64)))
		count := g.Op("CumSum", notPad, g.ScalarInt64(1))
		pid := g.Op("Add", g.Op("Mul", count, notPad), g.ScalarInt64(int64(cfg.PadTokenID)))
		h = g.Op("Add", h, g.Op("Gather", pos, pid))
	} else {
		// Positions 0..sequence-1: the first rows of the table.
		seq := g.OpWith("Shape", []string{ids}, onnx.AttrInt("start", 1), onnx.AttrInt("end", 2))
		rows := g.Op("Slice", pos, g.Ints(0), seq, g.Ints(0))
		h = g.Op("Add", h, rows)
	}
	return b.layerNorm(embLNName, h)
}

// extendedMask turns the [batch, sequence] 0/1 mask into the additive
// [batch, 1, 1, sequence] bias transformers adds to attention scores:
// (1 - mask) · float32-min.
func (b *builder) extendedMask(mask string) string {
	g := b.g
	m := g.Op("Unsqueeze", mask, g.Ints(1, 2))
	m = g.OpWith("Cast", []string{m}, onnx.AttrInt("to", int64(onnx.Float)))
	m = g.Op("Sub", g.ScalarFloat(1), m)
	return g.Op("Mul", m, g.ScalarFloat(maskFillFloat))
}

// layer is one post-LayerNorm transformer block.
func (b *builder) layer(i int, x, ext string) string {
	if b.err != nil {
		return x
	}
	g, cfg := b.g, b.cfg
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	nh, hd := int64(cfg.NumHeads), int64(cfg.HeadDim())
	n := layerParamNames(cfg.Family(), i)

	heads := g.Ints(0, 0, nh, hd)
	split := func(name string, perm ...int64) string {
		return g.OpWith("Transpose", []string{g.Op("Reshape", b.dense(name, x, H, H), heads)}, onnx.AttrInts("perm", perm...))
	}
	q := split(n.q, 0, 2, 1, 3) // [B, nh, S, hd]
	k := split(n.k, 0, 2, 3, 1) // [B, nh, hd, S]
	v := split(n.v, 0, 2, 1, 3) // [B, nh, S, hd]
	scores := g.Op("Div", g.Op("MatMul", q, k), g.ScalarFloat(float32(math.Sqrt(float64(hd)))))
	probs := g.OpWith("Softmax", []string{g.Op("Add", scores, ext)}, onnx.AttrInt("axis", -1))
	ctx := g.OpWith("Transpose", []string{g.Op("MatMul", probs, v)}, onnx.AttrInts("perm", 0, 2, 1, 3))
	ctx = g.Op("Reshape", ctx, g.Ints(0, 0, int64(H)))
	att := b.dense(n.o, ctx, H, H)
	x = b.layerNorm(n.ln1, g.Op("Add", att, x))

	ff := b.activation(b.dense(n.ff1, x, H, I))
	ff = b.dense(n.ff2, ff, I, H)
	return b.layerNorm(n.ln2, g.Op("Add", ff, x))
}

// activation applies the config's hidden activation.
func (b *builder) activation(x string) string {
	g := b.g
	switch b.cfg.HiddenAct {
	case "relu":
		return g.Op("Relu", x)
	case "gelu_new", "gelu_pytorch_tanh":
		// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
		x3 := g.Op("Mul", g.Op("Mul", x, x), x)
		inner := g.Op("Add", x, g.Op("Mul", x3, g.ScalarFloat(0.044715)))
		t := g.Op("Tanh", g.Op("Mul", inner, g.ScalarFloat(float32(math.Sqrt(2/math.Pi)))))
		return g.Op("Mul", g.Op("Mul", x, g.Op("Add", t, g.ScalarFloat(1))), g.ScalarFloat(0.5))
	}
	// Exact GELU, x·½·(1 + erf(x/√2)), in the form ONNX Runtime fuses
	// into one Gelu (and with the bias Add before it, BiasGelu).
	e := g.Op("Erf", g.Op("Div", x, g.ScalarFloat(float32(math.Sqrt2))))
	return g.Op("Mul", g.Op("Mul", x, g.Op("Add", e, g.ScalarFloat(1))), g.ScalarFloat(0.5))
}
