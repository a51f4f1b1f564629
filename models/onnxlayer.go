package models

import (
	"fmt"
	"math"
	"slices"

	"github.com/bertserve/bertserve/models/onnx"
)

// projection is one of the attention's query, key and value Linear
// layers as found in the graph.
type projection struct {
	mm     onnx.NodeInfo // the MatMul reading the layer input
	out    string        // its output after the bias
	w, b   []float32     // weight [out, in] and bias
	target onnx.NodeInfo // the attention MatMul the heads feed
	slot   int           // which input of target
	perm   []int64       // the transposes applied after splitting heads
	scale  float64       // constant factors applied on the way
	split  []int64       // [heads, head size] from the Reshape
}

// dataConsumers are the consumers of v that use its values (Shape and
// Size only read its dimensions).
func (m *matcher) dataConsumers(v string) []onnx.NodeInfo {
	var out []onnx.NodeInfo
	for _, c := range m.g.consumers(v) {
		if c.OpType != "Shape" && c.OpType != "Size" {
			out = append(out, c)
		}
	}
	return out
}

func (m *matcher) onlyData(v, what string) (onnx.NodeInfo, error) {
	cs := m.dataConsumers(v)
	if len(cs) != 1 {
		return onnx.NodeInfo{}, fmt.Errorf("%s: expected one node reading %q, found %s", what, v, describeNodes(cs))
	}
	return cs[0], nil
}

// constMatMuls are the MatMul nodes computing x·W for a constant W.
func (m *matcher) constMatMuls(x string) []onnx.NodeInfo {
	var out []onnx.NodeInfo
	for _, c := range m.g.consumers(x) {
		if c.OpType == "MatMul" && len(c.Inputs) == 2 && c.Inputs[0] == x && m.g.isConst(c.Inputs[1]) {
			out = append(out, c)
		}
	}
	return out
}

// dense reads the Linear layer x·W + b starting at the MatMul mm:
// W [in, out] is stored transposed back to PyTorch's [out, in]. A
// missing bias Add gives a zero bias. in and out of 0 accept any size.
func (m *matcher) dense(mm onnx.NodeInfo, in, out int, what string) (res string, w, b []float32, gotIn, gotOut int, err error) {
	W, shape, err := m.g.floatConst(mm.Inputs[1])
	if err != nil {
		return "", nil, nil, 0, 0, fmt.Errorf("%s weight: %w", what, err)
	}
	if len(shape) != 2 || (in > 0 && shape[0] != in) || (out > 0 && shape[1] != out) {
		return "", nil, nil, 0, 0, fmt.Errorf("%s: %s multiplies by a %v matrix, want [%d, %d]", what, describeNode(mm), shape, in, out)
	}
	in, out = shape[0], shape[1]
	res = mm.Outputs[0]
	b = make([]float32, out)
	if cs := m.dataConsumers(res); len(cs) == 1 && cs[0].OpType == "Add" {
		other, _ := otherInput(cs[0], res)
		if m.g.isConst(other) {
			bias, bs, err := m.g.floatConst(other)
			if err != nil {
				return "", nil, nil, 0, 0, fmt.Errorf("%s bias: %w", what, err)
			}
			if !slices.Equal(bs, []int{out}) {
				return "", nil, nil, 0, 0, fmt.Errorf("%s bias %q has shape %v, want [%d]", what, other, bs, out)
			}
			b, res = bias, cs[0].Outputs[0]
		}
	}
	return res, transpose(W, in, out), b, in, out, nil
}

// trace follows the value v of a projection through the head split
// (Reshape, Transpose) and constant scaling to the attention MatMul.
func (m *matcher) trace(p *projection, what string) error {
	g := m.g
	v := p.out
	p.perm = []int64{0, 1, 2, 3}
	p.scale = 1
	for range 12 {
		c, err := m.onlyData(v, what)
		if err != nil {
			return err
		}
		switch c.OpType {
		case "Reshape":
			split, err := m.headSplit(c)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			p.split = split
		case "Transpose":
			perm := c.AttrInts("perm")
			if len(perm) != 4 {
				return fmt.Errorf("%s: %s has perm %v, want a 4-D permutation", what, describeNode(c), perm)
			}
			next := make([]int64, 4)
			for i, a := range perm {
				next[i] = p.perm[a]
			}
			p.perm = next
		case "Mul", "Div":
			o, _ := otherInput(c, v)
			s, ok := g.scalar(o)
			if !ok || (c.OpType == "Div" && c.Inputs[1] != o) {
				return fmt.Errorf("%s: %s scales by %s, not a constant", what, describeNode(c), g.describeProducer(o))
			}
			if c.OpType == "Div" {
				s = 1 / s
			}
			p.scale *= s
		case "MatMul":
			p.target = c
			p.slot = slices.Index(c.Inputs, v)
			if p.split == nil {
				return fmt.Errorf("%s reaches %s without splitting into heads (Reshape)", what, describeNode(c))
			}
			return nil
		default:
			return fmt.Errorf("%s: expected the head split (Reshape, Transpose) to reach an attention MatMul, found %s", what, describeNode(c))
		}
		v = c.Outputs[0]
	}
	return fmt.Errorf("%s: no attention MatMul within 12 nodes of %q", what, p.out)
}

// headSplit reads [heads, head size] from a Reshape to
// [batch, sequence, heads, head size]: a constant shape, or a Concat
// whose last pieces are constants.
func (m *matcher) headSplit(r onnx.NodeInfo) ([]int64, error) {
	g := m.g
	if len(r.Inputs) < 2 {
		return nil, fmt.Errorf("%s has no shape input", describeNode(r))
	}
	if s, ok := g.ints(r.Inputs[1]); ok {
		if len(s) != 4 {
			return nil, fmt.Errorf("%s reshapes to %v, want [batch, sequence, heads, head size]", describeNode(r), s)
		}
		return m.heads2(r, s[2:])
	}
	c, ok := g.producer(r.Inputs[1])
	if !ok || c.OpType != "Concat" {
		return nil, fmt.Errorf("%s takes its shape from %s; cannot read the head count", describeNode(r), g.describeProducer(r.Inputs[1]))
	}
	var tail []int64
	for i := len(c.Inputs) - 1; i >= 0 && len(tail) < 2; i-- {
		vals, ok := g.ints(c.Inputs[i])
		if !ok {
			break
		}
		tail = append(slices.Clone(vals), tail...)
	}
	if len(tail) < 2 {
		return nil, fmt.Errorf("%s: the shape's last two dimensions (heads, head size) are not constants", describeNode(r))
	}
	return m.heads2(r, tail[len(tail)-2:])
}

// heads2 resolves [heads, head size] where one of them may be -1
// (transformers 5 reshapes with view(..., -1, head_dim)).
func (m *matcher) heads2(r onnx.NodeInfo, hs []int64) ([]int64, error) {
	H := int64(m.hidden)
	nh, hd := hs[0], hs[1]
	switch {
	case nh == -1 && hd > 0 && H%hd == 0:
		nh = H / hd
	case hd == -1 && nh > 0 && H%nh == 0:
		hd = H / nh
	}
	if nh <= 0 || hd <= 0 {
		return nil, fmt.Errorf("%s splits the hidden size %d into %v, want [heads, head size]", describeNode(r), H, hs)
	}
	return []int64{nh, hd}, nil
}

// layer matches one post-LayerNorm BERT layer reading x and returns its
// output; ok is false when no attention reads x (the encoder ended).
func (m *matcher) layer(i int, x string) (string, bool, error) {
	g := m.g
	H := m.hidden
	mms := m.constMatMuls(x)
	if len(mms) == 0 {
		return x, false, nil
	}
	if len(mms) != 3 {
		if len(mms) == 1 {
			if _, s, err := g.floatConst(mms[0].Inputs[1]); err == nil && len(s) == 2 && s[1] == 3*H {
				return "", false, fmt.Errorf("%s projects to [%d, %d] at once (a fused query/key/value weight), which import does not split", describeNode(mms[0]), s[0], s[1])
			}
			if i > 0 {
				// e.g. a classification or projection head after the encoder.
				m.notes = append(m.notes, fmt.Sprintf("a %s reads the last hidden state; it is not part of the encoder and was left out", describeNode(mms[0])))
				return x, false, nil
			}
		}
		return "", false, fmt.Errorf("expected three MatMul projections (query, key, value) of %q, found %s", x, describeNodes(mms))
	}
	ps := make([]*projection, 3)
	for j, mm := range mms {
		p := &projection{mm: mm}
		var err error
		if p.out, p.w, p.b, _, _, err = m.dense(mm, H, H, "attention projection"); err != nil {
			return "", false, err
		}
		if err := m.trace(p, "attention projection "+describeNode(mm)); err != nil {
			return "", false, err
		}
		ps[j] = p
	}
	// The scores MatMul is reached by two projections (query at input 0,
	// key at input 1); the value reaches the MatMul with the softmax.
	var q, k, v *projection
	for _, a := range ps {
		for _, b := range ps {
			if a != b && a.target.Outputs[0] == b.target.Outputs[0] && a.slot == 0 && b.slot == 1 {
				q, k = a, b
			}
		}
	}
	for _, p := range ps {
		if p != q && p != k {
			v = p
		}
	}
	if q == nil || v == nil || v.slot != 1 {
		return "", false, fmt.Errorf("cannot tell query, key and value apart: the projections reach %s, %s, %s", describeNode(ps[0].target), describeNode(ps[1].target), describeNode(ps[2].target))
	}
	if !slices.Equal(q.perm, []int64{0, 2, 1, 3}) || !slices.Equal(k.perm, []int64{0, 2, 3, 1}) || !slices.Equal(v.perm, []int64{0, 2, 1, 3}) {
		return "", false, fmt.Errorf("unexpected head layout: query, key, value transposed by %v, %v, %v (want [0 2 1 3], [0 2 3 1], [0 2 1 3])", q.perm, k.perm, v.perm)
	}
	if !slices.Equal(q.split, k.split) || !slices.Equal(q.split, v.split) {
		return "", false, fmt.Errorf("query, key and value split into different heads: %v, %v, %v", q.split, k.split, v.split)
	}
	nh, hd := int(q.split[0]), int(q.split[1])
	if nh*hd != H {
		return "", false, fmt.Errorf("%d heads of %d do not make the hidden size %d", nh, hd, H)
	}
	if m.heads != 0 && m.heads != nh {
		return "", false, fmt.Errorf("%d heads, but earlier layers have %d", nh, m.heads)
	}
	m.heads = nh
	probs, err := m.scores(q, k, hd)
	if err != nil {
		return "", false, err
	}
	if v.target.Inputs[0] != probs {
		return "", false, fmt.Errorf("the value projection reaches %s, whose other input is %s, not the attention probabilities", describeNode(v.target), g.describeProducer(v.target.Inputs[0]))
	}
	n := layerParamNames(FamilyBERT, i)
	for _, x := range []struct {
		p    *projection
		name string
	}{{q, n.q}, {k, n.k}, {v, n.v}} {
		m.put(x.name+".weight", x.p.w, H, H)
		m.put(x.name+".bias", x.p.b, H)
	}
	ctx, err := m.mergeHeads(v.target.Outputs[0])
	if err != nil {
		return "", false, err
	}
	a, err := m.residualDense(ctx, x, H, H, n.o, n.ln1, "attention output")
	if err != nil {
		return "", false, err
	}
	ff1s := m.constMatMuls(a)
	if len(ff1s) != 1 {
		return "", false, fmt.Errorf("expected one MatMul (the intermediate dense layer) reading the attention output %q, found %s", a, describeNodes(ff1s))
	}
	f, w1, b1, _, I, err := m.dense(ff1s[0], H, 0, "intermediate dense")
	if err != nil {
		return "", false, err
	}
	if m.inter != 0 && m.inter != I {
		return "", false, fmt.Errorf("intermediate size %d, but earlier layers have %d", I, m.inter)
	}
	m.inter = I
	m.put(n.ff1+".weight", w1, I, H)
	m.put(n.ff1+".bias", b1, I)
	act, actOut, err := m.activation(f, I)
	if err != nil {
		return "", false, err
	}
	if m.act != "" && m.act != act {
		return "", false, fmt.Errorf("activation %s, but earlier layers use %s", act, m.act)
	}
	m.act = act
	out, err := m.residualDense(actOut, a, I, H, n.ff2, n.ln2, "output dense")
	if err != nil {
		return "", false, err
	}
	return out, true, nil
}

// scores follows query·keyᵀ through the scaling and the additive
// attention mask to the Softmax, checking that the scale is 1/√head size,
// and returns the attention probabilities.
func (m *matcher) scores(q, k *projection, hd int) (string, error) {
	g := m.g
	v := q.target.Outputs[0]
	scale := q.scale * k.scale
	masked := false
	for range 8 {
		c, err := m.onlyData(v, "attention scores")
		if err != nil {
			return "", err
		}
		switch c.OpType {
		case "Mul", "Div":
			o, _ := otherInput(c, v)
			s, ok := g.scalar(o)
			if !ok || (c.OpType == "Div" && c.Inputs[1] != o) {
				return "", fmt.Errorf("attention scores: %s scales by %s, not a constant", describeNode(c), g.describeProducer(o))
			}
			if c.OpType == "Div" {
				s = 1 / s
			}
			scale *= s
		case "Add":
			o, _ := otherInput(c, v)
			if !g.dependsOn(o, m.mask) {
				return "", fmt.Errorf("attention scores: %s adds %s, which is not computed from %s", describeNode(c), g.describeProducer(o), m.mask)
			}
			masked = true
		case "Softmax":
			if ax := c.AttrInt("axis", -1); ax != -1 && ax != 3 {
				return "", fmt.Errorf("%s normalizes over axis %d, want the keys' axis (-1)", describeNode(c), ax)
			}
			if !masked {
				return "", fmt.Errorf("the attention scores reach %s without the attention mask being added", describeNode(c))
			}
			want := 1 / math.Sqrt(float64(hd))
			if math.Abs(scale-want) > 1e-4*want {
				return "", fmt.Errorf("attention scores are scaled by %.6g, want 1/√%d = %.6g (BERT's scaled dot product)", scale, hd, want)
			}
			return c.Outputs[0], nil
		default:
			return "", fmt.Errorf("attention scores: expected scaling, the mask Add and Softmax, found %s", describeNode(c))
		}
		v = c.Outputs[0]
	}
	return "", fmt.Errorf("attention scores: no Softmax within 8 nodes")
}

// mergeHeads follows the attention context through the transpose back to
// [batch, sequence, heads, head size] and the Reshape to [batch,
// sequence, hidden], returning the merged value.
func (m *matcher) mergeHeads(v string) (string, error) {
	perm := []int64{0, 1, 2, 3}
	for range 6 {
		c, err := m.onlyData(v, "attention context")
		if err != nil {
			return "", err
		}
		switch c.OpType {
		case "Transpose":
			p := c.AttrInts("perm")
			if len(p) != 4 {
				return "", fmt.Errorf("attention context: %s has perm %v", describeNode(c), p)
			}
			next := make([]int64, 4)
			for i, a := range p {
				next[i] = perm[a]
			}
			perm = next
		case "Reshape":
			if !slices.Equal(perm, []int64{0, 2, 1, 3}) {
				return "", fmt.Errorf("attention context: heads merged after transposes %v, want [0 2 1 3]", perm)
			}
			return c.Outputs[0], nil
		default:
			return "", fmt.Errorf("attention context: expected Transpose and Reshape, found %s", describeNode(c))
		}
		v = c.Outputs[0]
	}
	return "", fmt.Errorf("attention context: no Reshape within 6 nodes")
}

// residualDense matches dense(x) + residual followed by a LayerNorm,
// storing the dense layer as dense.* and the norm as ln.*.
func (m *matcher) residualDense(x, residual string, in, out int, dense, ln, what string) (string, error) {
	mms := m.constMatMuls(x)
	if len(mms) != 1 {
		return "", fmt.Errorf("%s: expected one MatMul reading %q, found %s", what, x, describeNodes(m.g.consumers(x)))
	}
	y, w, b, _, _, err := m.dense(mms[0], in, out, what)
	if err != nil {
		return "", err
	}
	add, err := m.onlyData(y, what)
	if err != nil {
		return "", err
	}
	if o, ok := otherInput(add, y); add.OpType != "Add" || !ok || o != residual {
		return "", fmt.Errorf("%s: expected the residual Add of %q, found %s", what, residual, describeNode(add))
	}
	m.put(dense+".weight", w, out, in)
	m.put(dense+".bias", b, out)
	return m.layerNorm(add.Outputs[0], ln)
}

// activation identifies the feed-forward activation between the
// intermediate dense output f and the output dense MatMul, returning the
// Hugging Face hidden_act name and the activation's output.
func (m *matcher) activation(f string, inter int) (string, string, error) {
	g := m.g
	// Everything computed from f without a weight MatMul, up to the
	// MatMul that multiplies by an [inter, hidden] constant.
	seen := map[string]bool{f: true}
	frontier := []string{f}
	ops := map[string]bool{}
	var out string
	for len(frontier) > 0 && len(seen) < 64 {
		v := frontier[0]
		frontier = frontier[1:]
		for _, c := range m.dataConsumers(v) {
			if c.OpType == "MatMul" && g.isConst(c.Inputs[1]) {
				if _, s, err := g.floatConst(c.Inputs[1]); err == nil && len(s) == 2 && s[0] == inter {
					if out != "" && out != v {
						return "", "", fmt.Errorf("the feed-forward activation of %q has two outputs (%q, %q)", f, out, v)
					}
					out = v
					continue
				}
			}
			ops[c.OpType] = true
			for _, o := range c.Outputs {
				if !seen[o] {
					seen[o] = true
					frontier = append(frontier, o)
				}
			}
		}
	}
	if out == "" {
		return "", "", fmt.Errorf("no output dense layer ([%d, hidden] MatMul) follows the intermediate dense output %q", inter, f)
	}
	switch {
	case out == f:
		return "", "", fmt.Errorf("the intermediate dense output %q reaches the output dense layer without an activation", f)
	case ops["Gelu"]:
		return m.geluOp(f)
	case ops["Erf"]:
		return "gelu", out, nil
	case ops["Tanh"]:
		return "gelu_new", out, nil
	case ops["Relu"] && len(ops) == 1:
		return "relu", out, nil
	case ops["Sigmoid"]:
		return "", "", fmt.Errorf("the feed-forward activation uses Sigmoid (SiLU or quick GELU), which BERT configs cannot express")
	}
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	slices.Sort(names)
	return "", "", fmt.Errorf("unrecognized feed-forward activation (ops %v); supported: gelu (Erf), gelu_new (Tanh), relu", names)
}

// geluOp handles opset 20's Gelu node.
func (m *matcher) geluOp(f string) (string, string, error) {
	for _, c := range m.dataConsumers(f) {
		if c.OpType == "Gelu" {
			for _, a := range c.Attrs {
				if a.Name == "approximate" && a.S == "tanh" {
					return "gelu_pytorch_tanh", c.Outputs[0], nil
				}
			}
			return "gelu", c.Outputs[0], nil
		}
	}
	return "", "", fmt.Errorf("the Gelu node does not read the intermediate dense output %q", f)
}

// pooler matches BERT's pooler on the last hidden state x, tanh(dense(
// x[:, 0])), when the graph computes it; it reports whether it did.
func (m *matcher) pooler(x string) (bool, error) {
	g := m.g
	H := m.hidden
	for _, c := range m.dataConsumers(x) {
		first := ""
		switch c.OpType {
		case "Gather":
			if idx, ok := g.scalar(c.Inputs[1]); ok && idx == 0 && c.AttrInt("axis", 0) == 1 {
				first = c.Outputs[0]
			}
		case "Slice":
			// x[:, 0:1] then Squeeze.
			if s, ok := g.ints(c.Inputs[1]); ok && len(s) == 1 && s[0] == 0 {
				if sq, err := m.onlyData(c.Outputs[0], "pooler"); err == nil && sq.OpType == "Squeeze" {
					first = sq.Outputs[0]
				}
			}
		}
		if first == "" {
			continue
		}
		var y string
		var w, b []float32
		if mms := m.constMatMuls(first); len(mms) == 1 {
			var err error
			if y, w, b, _, _, err = m.dense(mms[0], H, H, "pooler dense"); err != nil {
				return false, err
			}
		} else if gm, ok := m.gemm(first, H); ok {
			y, w, b = gm.out, gm.w, gm.b
		} else {
			continue
		}
		t, err := m.onlyData(y, "pooler")
		if err != nil || t.OpType != "Tanh" {
			continue
		}
		m.put(poolerName+".weight", w, H, H)
		m.put(poolerName+".bias", b, H)
		return true, nil
	}
	return false, nil
}

// gemmLinear is a Linear layer exported as Gemm (2-D input).
type gemmLinear struct {
	out  string
	w, b []float32 // [out, in], [out]
}

// gemm matches Gemm(x, W, b) with constant W [H, H] (transB 1: PyTorch's
// [out, in]; transB 0: [in, out]) and alpha = beta = 1.
func (m *matcher) gemm(x string, H int) (gemmLinear, bool) {
	g := m.g
	for _, c := range m.dataConsumers(x) {
		if c.OpType != "Gemm" || len(c.Inputs) < 2 || c.Inputs[0] != x || !g.isConst(c.Inputs[1]) {
			continue
		}
		if c.AttrInt("transA", 0) != 0 || c.AttrFloat("alpha", 1) != 1 || c.AttrFloat("beta", 1) != 1 {
			continue
		}
		W, s, err := g.floatConst(c.Inputs[1])
		if err != nil || !slices.Equal(s, []int{H, H}) {
			continue
		}
		if c.AttrInt("transB", 0) == 0 {
			W = transpose(W, H, H)
		}
		b := make([]float32, H)
		if len(c.Inputs) > 2 && c.Inputs[2] != "" {
			bias, bs, err := g.floatConst(c.Inputs[2])
			if err != nil || !slices.Equal(bs, []int{H}) {
				continue
			}
			b = bias
		}
		return gemmLinear{out: c.Outputs[0], w: W, b: b}, true
	}
	return gemmLinear{}, false
}
