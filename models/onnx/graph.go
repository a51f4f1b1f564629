package onnx

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Graph builds an ONNX GraphProto. Its methods record the first misuse
// (a duplicate name, data that does not match a shape) and return normally
// so that builder code reads as a straight list of operations; Err and
// Validate report what went wrong.
//
// A Graph is not safe for concurrent use.
type Graph struct {
	Name         string
	Inputs       []ValueInfo
	Outputs      []ValueInfo
	Initializers []*Tensor
	Nodes        []*Node
	// DocString is an optional human-readable description.
	DocString string

	err      error
	parent   *Graph          // the enclosing graph of a branch (Branch)
	defined  map[string]bool // every input, initializer and node output name
	counters map[string]int
	consts   map[string]string // content key -> initializer name
}

// NewGraph returns an empty graph called name.
func NewGraph(name string) *Graph {
	return &Graph{
		Name:     name,
		defined:  map[string]bool{},
		counters: map[string]int{},
		consts:   map[string]string{},
	}
}

// Err returns the first misuse recorded by the builder methods, or nil.
func (g *Graph) Err() error { return g.err }

func (g *Graph) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf("onnx graph %q: "+format, append([]any{g.Name}, args...)...)
	}
	for p := g.parent; p != nil; p = p.parent {
		if p.err == nil {
			p.err = g.err // a branch's misuse is its enclosing graphs'
		}
	}
}

// define claims a value name, recording an error if it is taken.
func (g *Graph) define(name string) {
	if name == "" {
		g.fail("empty value name")
		return
	}
	if g.Has(name) {
		g.fail("value %q defined twice", name)
		return
	}
	g.defined[name] = true
}

// Branch returns an empty subgraph of g for one side of an If. Its nodes
// may read any value g defines before the If; the names it defines are
// unique across both (ONNX forbids a branch shadowing an outer name).
func (g *Graph) Branch(name string) *Graph {
	return &Graph{Name: name, parent: g, defined: map[string]bool{}, counters: g.counters, consts: map[string]string{}}
}

// If appends an If node choosing, by the boolean scalar cond, between the
// branches then and els (from Branch, each with n declared outputs), and
// returns its n output names.
func (g *Graph) If(cond string, then, els *Graph, n int) []string {
	for _, br := range []*Graph{then, els} {
		if br.parent != g {
			g.fail("If branch %q was not made by this graph's Branch", br.Name)
		} else if len(br.Outputs) != n {
			g.fail("If branch %q has %d outputs, want %d", br.Name, len(br.Outputs), n)
		}
	}
	return g.OpN("If", []string{cond}, n, AttrGraph("then_branch", then), AttrGraph("else_branch", els))
}

// Has reports whether name is already a graph input, initializer or node
// output, here or in an enclosing graph.
func (g *Graph) Has(name string) bool {
	for ; g != nil; g = g.parent {
		if g.defined[name] {
			return true
		}
	}
	return false
}

// Fresh returns an unused value name starting with prefix ("MatMul_3").
func (g *Graph) Fresh(prefix string) string {
	for {
		n := g.counters[prefix]
		g.counters[prefix] = n + 1
		name := prefix + "_" + strconv.Itoa(n)
		if !g.Has(name) {
			return name
		}
	}
}

// Input declares a graph input and returns its name.
func (g *Graph) Input(name string, dt DataType, dims ...Dimension) string {
	g.define(name)
	g.Inputs = append(g.Inputs, ValueInfo{Name: name, Type: dt, Dims: dims})
	return name
}

// Output declares value (a node output or other defined value) as a graph
// output. Use Rename first to give it a public name.
func (g *Graph) Output(value string, dt DataType, dims ...Dimension) {
	g.Outputs = append(g.Outputs, ValueInfo{Name: value, Type: dt, Dims: dims})
}

// Initializer adds a constant tensor (a weight) and returns its name.
func (g *Graph) Initializer(t Tensor) string {
	if err := t.check(); err != nil {
		g.fail("%v", err)
		return t.Name
	}
	g.define(t.Name)
	g.Initializers = append(g.Initializers, &t)
	return t.Name
}

// InitFloat adds a float32 initializer of shape dims. data is not copied.
func (g *Graph) InitFloat(name string, dims []int64, data []float32) string {
	return g.Initializer(FloatTensor(name, dims, data))
}

// InitInt64 adds an int64 initializer of shape dims. data is not copied.
func (g *Graph) InitInt64(name string, dims []int64, data []int64) string {
	return g.Initializer(Int64Tensor(name, dims, data))
}

// ScalarFloat returns the name of a rank-0 float32 constant holding v,
// adding it once per distinct value.
func (g *Graph) ScalarFloat(v float32) string {
	key := "f32:" + strconv.FormatUint(uint64(math.Float32bits(v)), 16)
	if name, ok := g.consts[key]; ok {
		return name
	}
	name := g.Fresh("const_f32")
	g.consts[key] = name
	return g.InitFloat(name, []int64{}, []float32{v})
}

// ScalarInt64 returns the name of a rank-0 int64 constant holding v.
func (g *Graph) ScalarInt64(v int64) string {
	key := "i64s:" + strconv.FormatInt(v, 10)
	if name, ok := g.consts[key]; ok {
		return name
	}
	name := g.Fresh("const_i64")
	g.consts[key] = name
	return g.InitInt64(name, []int64{}, []int64{v})
}

// Ints returns the name of a 1-D int64 constant holding vals, the form
// Reshape shapes, Unsqueeze axes and Slice bounds take. Equal lists share
// one initializer.
func (g *Graph) Ints(vals ...int64) string {
	var sb strings.Builder
	sb.WriteString("i64v:")
	for _, v := range vals {
		sb.WriteString(strconv.FormatInt(v, 10))
		sb.WriteByte(',')
	}
	key := sb.String()
	if name, ok := g.consts[key]; ok {
		return name
	}
	name := g.Fresh("const_ints")
	g.consts[key] = name
	return g.InitInt64(name, []int64{int64(len(vals))}, append([]int64(nil), vals...))
}

// AddNode appends n as given. Its outputs must be new names.
func (g *Graph) AddNode(n Node) {
	if n.OpType == "" {
		g.fail("node %q has no op type", n.Name)
	}
	for _, o := range n.Outputs {
		g.define(o)
	}
	g.Nodes = append(g.Nodes, &n)
}

// Op appends a single-output node of the default domain with no
// attributes and returns its output name.
func (g *Graph) Op(opType string, inputs ...string) string {
	return g.OpWith(opType, inputs)
}

// OpWith appends a single-output node with attributes and returns its
// output name.
func (g *Graph) OpWith(opType string, inputs []string, attrs ...Attr) string {
	return g.OpN(opType, inputs, 1, attrs...)[0]
}

// OpN appends a node with n outputs (Split, TopK, ...) and returns their
// names.
func (g *Graph) OpN(opType string, inputs []string, n int, attrs ...Attr) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = g.Fresh(opType)
	}
	g.AddNode(Node{
		OpType:  opType,
		Name:    out[0],
		Inputs:  append([]string(nil), inputs...),
		Outputs: out,
		Attrs:   attrs,
	})
	return out
}

// Rename changes the name of value, a node output, to name everywhere it
// is used, and returns name. It is how a computed value gets a public
// output name ("last_hidden_state").
func (g *Graph) Rename(value, name string) string {
	if !g.defined[value] {
		g.fail("rename of unknown value %q to %q", value, name)
		return name
	}
	if value == name {
		return name
	}
	producer := false
	for _, n := range g.Nodes {
		for i, o := range n.Outputs {
			if o == value {
				n.Outputs[i] = name
				producer = true
			}
		}
	}
	if !producer {
		g.fail("rename of %q to %q: only node outputs can be renamed", value, name)
		return name
	}
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == value {
				n.Inputs[i] = name
			}
		}
	}
	for i := range g.Outputs {
		if g.Outputs[i].Name == value {
			g.Outputs[i].Name = name
		}
	}
	delete(g.defined, value)
	g.define(name)
	return name
}

// Validate reports the first recorded misuse, or a structural error: a
// node input that is not defined before the node, an output produced
// twice, or a graph output no one produces.
func (g *Graph) Validate() error {
	return g.validate(nil)
}

// validate is Validate for a graph whose nodes may also read the values
// in outer (an If branch's enclosing scope).
func (g *Graph) validate(outer map[string]bool) error {
	if g.err != nil {
		return g.err
	}
	seen := map[string]bool{}
	for k := range outer {
		seen[k] = true
	}
	for _, in := range g.Inputs {
		if in.Type == Undefined {
			return fmt.Errorf("onnx graph %q: input %q has no element type", g.Name, in.Name)
		}
		seen[in.Name] = true
	}
	for _, t := range g.Initializers {
		if seen[t.Name] {
			return fmt.Errorf("onnx graph %q: initializer %q shadows a graph input", g.Name, t.Name)
		}
		seen[t.Name] = true
	}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != "" && !seen[in] {
				return fmt.Errorf("onnx graph %q: node %d (%s %q) reads %q before anything defines it", g.Name, i, n.OpType, n.Name, in)
			}
		}
		for _, a := range n.Attrs {
			if a.kind == attrTensor {
				if err := a.t.check(); err != nil {
					return fmt.Errorf("onnx graph %q: node %q attribute %q: %w", g.Name, n.Name, a.Name, err)
				}
			}
			if a.kind == attrGraph {
				if err := a.g.validate(seen); err != nil {
					return fmt.Errorf("onnx graph %q: node %q attribute %q: %w", g.Name, n.Name, a.Name, err)
				}
			}
		}
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if seen[o] {
				return fmt.Errorf("onnx graph %q: node %d (%s) output %q is already defined", g.Name, i, n.OpType, o)
			}
			seen[o] = true
		}
	}
	if len(g.Outputs) == 0 {
		return errors.New("onnx graph " + strconv.Quote(g.Name) + ": no outputs declared")
	}
	for _, o := range g.Outputs {
		if !seen[o.Name] {
			return fmt.Errorf("onnx graph %q: output %q is never produced", g.Name, o.Name)
		}
		if o.Type == Undefined {
			return fmt.Errorf("onnx graph %q: output %q has no element type", g.Name, o.Name)
		}
	}
	return nil
}
