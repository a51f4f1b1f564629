package models

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/bertserve/bertserve/models/onnx"
)

// onnxGraph indexes a decoded ONNX graph for pattern matching: who
// produces and who consumes each value, and which values are constants
// (initializers, Constant nodes, and transposes of either).
type onnxGraph struct {
	info   *onnx.Info
	prod   map[string]int   // value -> index of the node producing it
	cons   map[string][]int // value -> indices of the nodes reading it
	init   map[string]onnx.TensorInfo
	inputs map[string]bool
	outs   map[string]bool
	used   map[string]bool // initializers the matcher took as weights
}

func newONNXGraph(info *onnx.Info) *onnxGraph {
	g := &onnxGraph{
		info: info, prod: map[string]int{}, cons: map[string][]int{},
		init: map[string]onnx.TensorInfo{}, inputs: map[string]bool{}, outs: map[string]bool{},
		used: map[string]bool{},
	}
	for _, t := range info.Initializers {
		g.init[t.Name] = t
	}
	for _, in := range info.Inputs {
		if _, isInit := g.init[in.Name]; !isInit {
			g.inputs[in.Name] = true
		}
	}
	for _, o := range info.Outputs {
		g.outs[o.Name] = true
	}
	for i, n := range info.Nodes {
		for _, o := range n.Outputs {
			g.prod[o] = i
		}
		for _, in := range n.Inputs {
			if in != "" {
				g.cons[in] = append(g.cons[in], i)
			}
		}
	}
	return g
}

// node returns the node at index i.
func (g *onnxGraph) node(i int) onnx.NodeInfo { return g.info.Nodes[i] }

// producer returns the node producing v, looking through Identity.
func (g *onnxGraph) producer(v string) (onnx.NodeInfo, bool) {
	for range 16 {
		i, ok := g.prod[v]
		if !ok {
			return onnx.NodeInfo{}, false
		}
		n := g.node(i)
		if n.OpType != "Identity" || len(n.Inputs) == 0 {
			return n, true
		}
		v = n.Inputs[0]
	}
	return onnx.NodeInfo{}, false
}

// consumers returns the nodes reading v, looking through Identity,
// Dropout (inference: a no-op) and Cast to float.
func (g *onnxGraph) consumers(v string) []onnx.NodeInfo {
	var out []onnx.NodeInfo
	for _, i := range g.cons[v] {
		n := g.node(i)
		if (n.OpType == "Identity" || n.OpType == "Dropout") && len(n.Outputs) > 0 {
			out = append(out, g.consumers(n.Outputs[0])...)
			continue
		}
		out = append(out, n)
	}
	return out
}

// only returns the single consumer of v, or an error describing what is
// there instead.
func (g *onnxGraph) only(v, what string) (onnx.NodeInfo, error) {
	cs := g.consumers(v)
	if len(cs) != 1 {
		return onnx.NodeInfo{}, fmt.Errorf("%s: expected one node reading %q, found %s", what, v, describeNodes(cs))
	}
	return cs[0], nil
}

// isOutput reports whether v (or an Identity of it) is a graph output.
func (g *onnxGraph) isOutput(v string) (string, bool) {
	if g.outs[v] {
		return v, true
	}
	for _, i := range g.cons[v] {
		if n := g.node(i); n.OpType == "Identity" && len(n.Outputs) > 0 && g.outs[n.Outputs[0]] {
			return n.Outputs[0], true
		}
	}
	return "", false
}

// constant returns the tensor v holds when it is an initializer, a
// Constant node's value, or an Identity of either.
func (g *onnxGraph) constant(v string) (onnx.TensorInfo, bool) {
	for range 16 {
		if t, ok := g.init[v]; ok {
			return t, true
		}
		i, ok := g.prod[v]
		if !ok {
			return onnx.TensorInfo{}, false
		}
		n := g.node(i)
		switch n.OpType {
		case "Constant":
			if a, ok := n.Attr("value"); ok && a.T != nil {
				t := *a.T
				t.Name = v
				return t, true
			}
			if a, ok := n.Attr("value_float"); ok {
				return onnx.TensorInfo{Name: v, Type: onnx.Float, FloatData: []float32{a.F}}, true
			}
			if a, ok := n.Attr("value_int"); ok {
				return onnx.TensorInfo{Name: v, Type: onnx.Int64, Int64Data: []int64{a.I}}, true
			}
			return onnx.TensorInfo{}, false
		case "Identity":
			v = n.Inputs[0]
		default:
			return onnx.TensorInfo{}, false
		}
	}
	return onnx.TensorInfo{}, false
}

// isConst reports whether v is a constant (see constant) or a Transpose
// of one.
func (g *onnxGraph) isConst(v string) bool {
	if _, ok := g.constant(v); ok {
		return true
	}
	n, ok := g.producer(v)
	return ok && n.OpType == "Transpose" && g.isConst(n.Inputs[0])
}

// scalar returns the value of a one-element numeric constant.
func (g *onnxGraph) scalar(v string) (float64, bool) {
	t, ok := g.constant(v)
	if !ok || t.NumElements() != 1 {
		return 0, false
	}
	if t.Type == onnx.Float {
		f, err := t.Floats()
		if err != nil {
			return 0, false
		}
		return float64(f[0]), true
	}
	if t.Type == onnx.Double && len(t.Raw) == 8 {
		return math.Float64frombits(leUint64(t.Raw)), true
	}
	ints, err := t.Ints()
	if err != nil {
		return 0, false
	}
	return float64(ints[0]), true
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// ints returns the values of an integer constant, looking through the
// shape-only ops (Unsqueeze, Squeeze, Reshape, Flatten, Cast) that an
// export made without constant folding leaves around its constants.
func (g *onnxGraph) ints(v string) ([]int64, bool) {
	for range 8 {
		if t, ok := g.constant(v); ok {
			x, err := t.Ints()
			return x, err == nil
		}
		n, ok := g.producer(v)
		if !ok || len(n.Inputs) == 0 {
			return nil, false
		}
		switch n.OpType {
		case "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Cast":
			v = n.Inputs[0]
		default:
			return nil, false
		}
	}
	return nil, false
}

// floatConst returns a float constant's values and shape, applying a
// Transpose node between the constant and v (an export made without
// constant folding keeps Linear weights as Transpose(W)).
func (g *onnxGraph) floatConst(v string) ([]float32, []int, error) {
	if t, ok := g.constant(v); ok {
		if t.Type != onnx.Float {
			return nil, nil, fmt.Errorf("constant %q is %s; bertserve recovers float32 weights only (a quantized or half-precision export? import the float32 model.onnx)", v, t.Type)
		}
		data, err := t.Floats()
		if err != nil {
			return nil, nil, err
		}
		g.used[t.Name] = true
		shape := make([]int, len(t.Dims))
		for i, d := range t.Dims {
			shape[i] = int(d)
		}
		return data, shape, nil
	}
	if n, ok := g.producer(v); ok && n.OpType == "Transpose" {
		data, shape, err := g.floatConst(n.Inputs[0])
		if err != nil {
			return nil, nil, err
		}
		perm := n.AttrInts("perm")
		if len(shape) != 2 || (perm != nil && !slices.Equal(perm, []int64{1, 0})) {
			return nil, nil, fmt.Errorf("constant %q is a Transpose %v of a %v tensor; only 2-D transposes of weights are understood", v, perm, shape)
		}
		return transpose(data, shape[0], shape[1]), []int{shape[1], shape[0]}, nil
	}
	return nil, nil, fmt.Errorf("%q is not a constant tensor (it is computed by %s)", v, g.describeProducer(v))
}

// otherInput returns the input of a two-input node that is not v.
func otherInput(n onnx.NodeInfo, v string) (string, bool) {
	if len(n.Inputs) != 2 {
		return "", false
	}
	switch v {
	case n.Inputs[0]:
		return n.Inputs[1], true
	case n.Inputs[1]:
		return n.Inputs[0], true
	}
	return "", false
}

// dependsOn reports whether v is computed from the graph input in.
func (g *onnxGraph) dependsOn(v, in string) bool {
	seen := map[string]bool{}
	stack := []string{v}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x == in {
			return true
		}
		if seen[x] {
			continue
		}
		seen[x] = true
		if i, ok := g.prod[x]; ok {
			stack = append(stack, g.node(i).Inputs...)
		}
	}
	return false
}

func (g *onnxGraph) describeProducer(v string) string {
	if g.inputs[v] {
		return "the graph input " + v
	}
	if n, ok := g.producer(v); ok {
		return describeNode(n)
	}
	return "nothing"
}

func describeNode(n onnx.NodeInfo) string {
	op := n.OpType
	if n.Domain != "" && n.Domain != "ai.onnx" {
		op = n.Domain + "." + op
	}
	if n.Name != "" {
		return fmt.Sprintf("%s node %q", op, n.Name)
	}
	if len(n.Outputs) > 0 {
		return fmt.Sprintf("%s node (output %q)", op, n.Outputs[0])
	}
	return op + " node"
}

func describeNodes(ns []onnx.NodeInfo) string {
	if len(ns) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(ns))
	for i, n := range ns {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ns)-4))
			break
		}
		parts = append(parts, describeNode(n))
	}
	return strings.Join(parts, ", ")
}
