package models

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bertserve/bertserve/models/onnx"
	"github.com/bertserve/bertserve/models/safetensors"
)

// Recovered is what RecoverONNX reads out of a BERT encoder's ONNX
// export: the architecture and the weights under Hugging Face names.
type Recovered struct {
	Config *Config
	// Weights are unprefixed Hugging Face names
	// ("encoder.layer.0.attention.self.query.weight"), Linear weights
	// [out, in] as PyTorch stores them.
	Weights Weights
	// Outputs are the export's graph outputs.
	Outputs []string
	// Notes say what was assumed or left out (a missing token-type table,
	// float initializers no layer used, outputs computed past the encoder).
	Notes []string
}

// Ops that mark an export whose float weights are gone (quantized) or
// whose layers were fused by ONNX Runtime's transformer optimizer: the
// per-layer pattern RecoverONNX matches is not there.
var (
	quantizedOps = map[string]bool{
		"MatMulInteger": true, "DynamicQuantizeLinear": true, "QuantizeLinear": true, "DequantizeLinear": true,
		"QLinearMatMul": true, "MatMulNBits": true, "QAttention": true, "DynamicQuantizeMatMul": true, "QGemm": true,
		"MatMulIntegerToFloat": true, "ConvInteger": true,
	}
	fusedOps = map[string]bool{
		"Attention": true, "MultiHeadAttention": true, "SkipLayerNormalization": true, "EmbedLayerNormalization": true,
		"BiasGelu": true, "FastGelu": true, "FusedMatMul": true, "SkipSimplifiedLayerNormalization": true,
		"PackedAttention": true, "GroupQueryAttention": true, "RotaryEmbedding": true,
	}
)

// RecoverONNX recovers a BERT encoder (BERT, MiniLM, BGE, E5, ...; the
// layout transformers' BertModel has) from an ONNX export such as
// optimum's or Xenova's onnx/model.onnx, a torch.onnx export of BertModel,
// or a graph bertserve built. It walks the graph from input_ids by data
// flow, not by names: torch exports keep biases and LayerNorm parameters
// under their Hugging Face names but store every Linear weight transposed
// ([in, out]) under generated names such as "onnx::MatMul_1234", fold the
// position ids into constants and decompose LayerNorm into
// ReduceMean/Sub/Pow/Sqrt/Div (opset 11); newer exporters use
// LayerNormalization and scale queries and keys separately. The
// architecture (layers, hidden size, heads, intermediate size,
// vocabulary, positions, token types, LayerNorm epsilon, activation) is
// read off the graph. Anything that does not match the BERT layer —
// quantized or fused operators, external weight files, RoBERTa-style
// positions, a different attention scale — is an error naming the node.
func RecoverONNX(data []byte) (*Recovered, error) {
	info, err := onnx.Inspect(data)
	if err != nil {
		return nil, err
	}
	if err := checkONNXOps(info); err != nil {
		return nil, err
	}
	m := &matcher{g: newONNXGraph(info), w: Weights{}}
	r, err := m.recover()
	if err != nil {
		return nil, fmt.Errorf("recovering BERT weights from the ONNX graph: %w", err)
	}
	return r, nil
}

func checkONNXOps(info *onnx.Info) error {
	var quant, fused []string
	for _, n := range info.Nodes {
		switch {
		case quantizedOps[n.OpType]:
			quant = appendOnce(quant, n.OpType)
		case fusedOps[n.OpType] || (n.Domain == "com.microsoft" && n.OpType != "Gelu"):
			fused = appendOnce(fused, n.OpType)
		}
	}
	if len(quant) > 0 {
		return fmt.Errorf("the ONNX graph is quantized (%s): its float32 weights cannot be recovered; import the float32 export instead (e.g. onnx/model.onnx rather than model_quantized.onnx, or the package without the -q suffix)", strings.Join(quant, ", "))
	}
	if len(fused) > 0 {
		return fmt.Errorf("the ONNX graph was optimized into fused ONNX Runtime operators (%s): the per-layer pattern is gone; import the unoptimized export (optimum-cli export onnx without -O2/-O3, or onnx/model.onnx)", strings.Join(fused, ", "))
	}
	return nil
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// matcher walks one export, filling w with Hugging Face-named tensors.
type matcher struct {
	g     *onnxGraph
	w     Weights
	ids   string
	mask  string
	types string
	notes []string

	hidden, heads, inter int
	eps                  float64
	epsSet               bool
	act                  string
}

func (m *matcher) put(name string, data []float32, shape ...int) {
	m.w[name] = safetensors.Tensor{Shape: shape, Data: data}
}

func (m *matcher) recover() (*Recovered, error) {
	g := m.g
	for name := range g.inputs {
		switch name {
		case InputIDs:
			m.ids = name
		case InputMask:
			m.mask = name
		case InputTypeIDs:
			m.types = name
		}
	}
	var names []string
	for _, in := range g.info.Inputs {
		names = append(names, in.Name)
	}
	if m.ids == "" {
		return nil, fmt.Errorf("the graph has no %s input (inputs: %v); is it a text encoder?", InputIDs, names)
	}
	if m.mask == "" {
		return nil, fmt.Errorf("the graph has no %s input (inputs: %v); BERT exports take input_ids and attention_mask", InputMask, names)
	}
	x, err := m.embeddings()
	if err != nil {
		return nil, fmt.Errorf("embeddings: %w", err)
	}
	layers := 0
	for {
		next, ok, err := m.layer(layers, x)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", layers, err)
		}
		if !ok {
			break
		}
		x = next
		layers++
	}
	if layers == 0 {
		return nil, fmt.Errorf("no transformer layer reads the embeddings' output %q (it feeds %s)", x, describeNodes(g.consumers(x)))
	}
	pooler, err := m.pooler(x)
	if err != nil {
		return nil, fmt.Errorf("pooler: %w", err)
	}
	if _, ok := g.isOutput(x); !ok {
		m.notes = append(m.notes, fmt.Sprintf("the graph's outputs are computed from the last layer's hidden state %q (pooling or a head inside the graph); only the encoder was recovered", x))
	}
	var outs []string
	for _, o := range g.info.Outputs {
		outs = append(outs, o.Name)
	}
	if !pooler {
		m.notes = append(m.notes, "the export has no pooler (pooler_output): the weights hold none, so use cls or mean pooling")
	}
	var unused []string
	for _, t := range g.info.Initializers {
		if t.Type == onnx.Float && t.NumElements() >= 64 && !g.used[t.Name] {
			unused = append(unused, fmt.Sprintf("%s %v", t.Name, t.Dims))
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		m.notes = append(m.notes, "float initializers not part of the encoder were left out: "+strings.Join(unused, ", "))
	}
	word := m.w[wordEmbName]
	pos := m.w[posEmbName]
	typ := m.w[typeEmbName]
	cfg := &Config{
		ModelType: "bert", Architectures: []string{"BertModel"},
		HiddenSize: m.hidden, NumLayers: layers, NumHeads: m.heads, IntermediateSize: m.inter,
		VocabSize: word.Shape[0], MaxPositions: pos.Shape[0], TypeVocabSize: typ.Shape[0],
		LayerNormEps: m.eps, HiddenAct: m.act, PadTokenID: 0, InitializerRange: 0.02,
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the architecture read off the graph is not valid: %w", err)
	}
	return &Recovered{Config: cfg, Weights: m.w, Outputs: outs, Notes: m.notes}, nil
}

// embeddings matches word + token-type + position embeddings and their
// LayerNorm, returning the LayerNorm's output.
func (m *matcher) embeddings() (string, error) {
	g := m.g
	var word onnx.NodeInfo
	found := false
	for _, c := range m.idsConsumers() {
		if c.OpType == "Gather" && len(c.Inputs) == 2 && g.isConst(c.Inputs[0]) {
			word, found = c, true
			break
		}
	}
	if !found {
		return "", fmt.Errorf("no Gather of an embedding table by %s (it feeds %s); is this a BERT-family encoder?", m.ids, describeNodes(g.consumers(m.ids)))
	}
	W, shape, err := g.floatConst(word.Inputs[0])
	if err != nil {
		return "", fmt.Errorf("word embeddings: %w", err)
	}
	if len(shape) != 2 {
		return "", fmt.Errorf("word embedding table %q has shape %v, want [vocab, hidden]", word.Inputs[0], shape)
	}
	V, H := shape[0], shape[1]
	m.hidden = H
	m.put(wordEmbName, W, V, H)
	cur := word.Outputs[0]
	var havePos, haveType bool
	for {
		cs := g.consumers(cur)
		if len(cs) != 1 || cs[0].OpType != "Add" {
			break
		}
		other, ok := otherInput(cs[0], cur)
		if !ok {
			return "", fmt.Errorf("%s adds %q to itself", describeNode(cs[0]), cur)
		}
		role, table, tshape, err := m.embeddingAddend(other, haveType)
		if err != nil {
			return "", err
		}
		if len(tshape) != 2 || tshape[1] != H {
			return "", fmt.Errorf("%s embedding table has shape %v, want [n, %d]", role, tshape, H)
		}
		switch role {
		case "position":
			if havePos {
				return "", fmt.Errorf("two position embedding tables are added (the second through %s)", describeNode(cs[0]))
			}
			havePos = true
			m.put(posEmbName, table, tshape...)
		case "token-type":
			if haveType {
				return "", fmt.Errorf("two token-type embedding tables are added (the second through %s)", describeNode(cs[0]))
			}
			haveType = true
			m.put(typeEmbName, table, tshape...)
		}
		cur = cs[0].Outputs[0]
	}
	if !havePos {
		return "", fmt.Errorf("no absolute position embedding table is added to the word embeddings (the sum %q feeds %s): models with relative, rotary or ALiBi positions are not BERT", cur, describeNodes(g.consumers(cur)))
	}
	if !haveType {
		m.put(typeEmbName, make([]float32, H), 1, H)
		m.notes = append(m.notes, "the export adds no token-type embedding: written as type_vocab_size 1 with a zero table, which computes the same")
	}
	return m.layerNorm(cur, embLNName)
}

// idsConsumers are the nodes reading input_ids, looking through Cast.
func (m *matcher) idsConsumers() []onnx.NodeInfo {
	var out []onnx.NodeInfo
	for _, c := range m.g.consumers(m.ids) {
		if c.OpType == "Cast" {
			out = append(out, m.g.consumers(c.Outputs[0])...)
			continue
		}
		out = append(out, c)
	}
	return out
}

// embeddingAddend classifies a term of the embedding sum: a Gather of a
// table by token_type_ids (token types), a Gather by position ids or the
// first rows of a table (positions).
func (m *matcher) embeddingAddend(v string, haveType bool) (role string, table []float32, shape []int, err error) {
	g := m.g
	n, ok := g.producer(v)
	if !ok {
		return "", nil, nil, fmt.Errorf("the embedding sum adds %s, not a looked-up embedding", g.describeProducer(v))
	}
	switch {
	case n.OpType == "Gather" && len(n.Inputs) == 2 && g.isConst(n.Inputs[0]):
		table, shape, err = g.floatConst(n.Inputs[0])
		if err != nil {
			return "", nil, nil, err
		}
		idx := n.Inputs[1]
		if m.ancestorOp(idx, "CumSum") {
			return "", nil, nil, fmt.Errorf("the position ids are counted from input_ids (CumSum, %s): a RoBERTa-style export, which import --from model.onnx does not handle; import the Hugging Face folder with safetensors weights instead", describeNode(n))
		}
		if m.types != "" && m.isInput(idx, m.types) {
			return "token-type", table, shape, nil
		}
		if m.types == "" && !haveType && len(shape) == 2 && shape[0] <= 16 {
			// token_type_ids folded to a constant (all zeros) by the export.
			return "token-type", table, shape, nil
		}
		return "position", table, shape, nil
	case n.OpType == "Slice" && len(n.Inputs) >= 3 && g.isConst(n.Inputs[0]):
		// The first sequence-length rows of the table (bertserve's own
		// graphs): starts must be 0 on axis 0.
		if s, ok := g.ints(n.Inputs[1]); !ok || len(s) != 1 || s[0] != 0 {
			return "", nil, nil, fmt.Errorf("%s slices an embedding table from %v, want rows from 0", describeNode(n), s)
		}
		table, shape, err = g.floatConst(n.Inputs[0])
		return "position", table, shape, err
	}
	return "", nil, nil, fmt.Errorf("the embedding sum adds the output of %s, not a Gather of an embedding table", describeNode(n))
}

// isInput reports whether v is the graph input in, possibly through
// Cast or Identity.
func (m *matcher) isInput(v, in string) bool {
	for range 8 {
		if v == in {
			return true
		}
		i, ok := m.g.prod[v]
		if !ok {
			return false
		}
		n := m.g.node(i)
		if (n.OpType != "Cast" && n.OpType != "Identity") || len(n.Inputs) == 0 {
			return false
		}
		v = n.Inputs[0]
	}
	return false
}

// ancestorOp reports whether v is computed through an op of type op.
func (m *matcher) ancestorOp(v, op string) bool {
	g := m.g
	seen := map[string]bool{}
	stack := []string{v}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[x] {
			continue
		}
		seen[x] = true
		if i, ok := g.prod[x]; ok {
			n := g.node(i)
			if n.OpType == op {
				return true
			}
			stack = append(stack, n.Inputs...)
		}
	}
	return false
}

// setEps records a LayerNorm epsilon, rounded from float32 to the value
// the config most likely held (1e-12, not 9.99999996e-13); every
// LayerNorm of a BERT config shares one.
func (m *matcher) setEps(e float32, where string) error {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(e), 'g', 6, 32), 64)
	if !m.epsSet {
		m.eps, m.epsSet = v, true
		return nil
	}
	if math.Abs(v-m.eps) > 1e-6*m.eps {
		return fmt.Errorf("%s uses LayerNorm epsilon %g but an earlier LayerNorm %g: one config.json cannot express both", where, v, m.eps)
	}
	return nil
}

// layerNorm matches a LayerNorm over the last axis of x, as one
// LayerNormalization node or in the ReduceMean/Sub/Pow/ReduceMean/Add/
// Sqrt/Div/Mul/Add form of opset-11 exports, storing its parameters as
// name.weight and name.bias. It returns the normalized value.
func (m *matcher) layerNorm(x, name string) (string, error) {
	g := m.g
	H := m.hidden
	cs := g.consumers(x)
	for _, c := range cs {
		if c.OpType != "LayerNormalization" || c.Inputs[0] != x {
			continue
		}
		if ax := c.AttrInt("axis", -1); ax != -1 && ax != 2 {
			return "", fmt.Errorf("%s normalizes from axis %d, want the last axis", describeNode(c), ax)
		}
		gamma, gs, err := g.floatConst(c.Inputs[1])
		if err != nil {
			return "", fmt.Errorf("%s scale: %w", name, err)
		}
		beta := make([]float32, H)
		if len(c.Inputs) > 2 && c.Inputs[2] != "" {
			var bs []int
			if beta, bs, err = g.floatConst(c.Inputs[2]); err != nil {
				return "", fmt.Errorf("%s bias: %w", name, err)
			}
			if !slices.Equal(bs, []int{H}) {
				return "", fmt.Errorf("%s bias has shape %v, want [%d]", name, bs, H)
			}
		}
		if !slices.Equal(gs, []int{H}) {
			return "", fmt.Errorf("%s scale has shape %v, want [%d]", name, gs, H)
		}
		if err := m.setEps(c.AttrFloat("epsilon", 1e-5), describeNode(c)); err != nil {
			return "", err
		}
		m.put(name+".weight", gamma, H)
		m.put(name+".bias", beta, H)
		return c.Outputs[0], nil
	}
	var mean onnx.NodeInfo
	var sub onnx.NodeInfo
	for _, c := range cs {
		if c.OpType == "ReduceMean" {
			mean = c
		}
	}
	for _, c := range cs {
		if c.OpType == "Sub" && len(c.Inputs) == 2 && c.Inputs[0] == x && mean.OpType != "" && c.Inputs[1] == mean.Outputs[0] {
			sub = c
		}
	}
	if mean.OpType == "" || sub.OpType == "" {
		return "", fmt.Errorf("%s: expected a LayerNorm (LayerNormalization, or ReduceMean and Sub) reading %q, found %s", name, x, describeNodes(cs))
	}
	if err := m.lastAxis(mean); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	d := sub.Outputs[0]
	var sq, div onnx.NodeInfo
	for _, c := range g.consumers(d) {
		switch {
		case c.OpType == "Pow" && len(c.Inputs) == 2 && c.Inputs[0] == d:
			if e, ok := g.scalar(c.Inputs[1]); ok && e == 2 {
				sq = c
			}
		case c.OpType == "Mul" && len(c.Inputs) == 2 && c.Inputs[0] == d && c.Inputs[1] == d:
			sq = c
		case c.OpType == "Div" && c.Inputs[0] == d:
			div = c
		}
	}
	if sq.OpType == "" || div.OpType == "" {
		return "", fmt.Errorf("%s: the centred value %q should be squared (Pow 2) and divided (Div), but feeds %s", name, d, describeNodes(g.consumers(d)))
	}
	chain := []string{"ReduceMean", "Add", "Sqrt"}
	v := sq.Outputs[0]
	var eps float64
	for _, op := range chain {
		c, err := g.only(v, name)
		if err != nil {
			return "", err
		}
		if c.OpType != op {
			return "", fmt.Errorf("%s: expected %s after %q, found %s", name, op, v, describeNode(c))
		}
		switch op {
		case "ReduceMean":
			if err := m.lastAxis(c); err != nil {
				return "", fmt.Errorf("%s: %w", name, err)
			}
		case "Add":
			o, _ := otherInput(c, v)
			e, ok := g.scalar(o)
			if !ok {
				return "", fmt.Errorf("%s: the variance is added to %s, not a constant epsilon", name, g.describeProducer(o))
			}
			eps = e
		}
		v = c.Outputs[0]
	}
	if div.Inputs[1] != v {
		return "", fmt.Errorf("%s: %s divides by %q, not by the standard deviation %q", name, describeNode(div), div.Inputs[1], v)
	}
	mul, err := g.only(div.Outputs[0], name)
	if err != nil {
		return "", err
	}
	add, err := g.only(mul.Outputs[0], name)
	if err != nil {
		return "", err
	}
	if mul.OpType != "Mul" || add.OpType != "Add" {
		return "", fmt.Errorf("%s: expected Mul by the scale then Add of the bias, found %s then %s", name, describeNode(mul), describeNode(add))
	}
	gn, _ := otherInput(mul, div.Outputs[0])
	bn, _ := otherInput(add, mul.Outputs[0])
	gamma, gs, err := g.floatConst(gn)
	if err != nil {
		return "", fmt.Errorf("%s scale: %w", name, err)
	}
	beta, bs, err := g.floatConst(bn)
	if err != nil {
		return "", fmt.Errorf("%s bias: %w", name, err)
	}
	if !slices.Equal(gs, []int{H}) || !slices.Equal(bs, []int{H}) {
		return "", fmt.Errorf("%s scale and bias have shapes %v and %v, want [%d]", name, gs, bs, H)
	}
	if err := m.setEps(float32(eps), describeNode(add)); err != nil {
		return "", err
	}
	m.put(name+".weight", gamma, H)
	m.put(name+".bias", beta, H)
	return add.Outputs[0], nil
}

// lastAxis checks that a ReduceMean averages over the last axis only
// (axes as an attribute, or as an input from opset 18).
func (m *matcher) lastAxis(n onnx.NodeInfo) error {
	axes := n.AttrInts("axes")
	if axes == nil && len(n.Inputs) > 1 {
		axes, _ = m.g.ints(n.Inputs[1])
	}
	if len(axes) != 1 || (axes[0] != -1 && axes[0] != 2) {
		return fmt.Errorf("%s averages over axes %v, want the last axis", describeNode(n), axes)
	}
	return nil
}
