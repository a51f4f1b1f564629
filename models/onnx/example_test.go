package onnx_test

import (
	"fmt"

	"github.com/bertserve/bertserve/models/onnx"
)

// A two-layer graph: y = relu(x·W + b), with a dynamic batch dimension.
func Example() {
	g := onnx.NewGraph("linear_relu")
	x := g.Input("x", onnx.Float, onnx.Sym("batch"), onnx.Dim(3))
	w := g.InitFloat("W", []int64{3, 2}, []float32{1, 0, 0, 1, 1, 1})
	b := g.InitFloat("b", []int64{2}, []float32{0, -1})
	h := g.Op("Add", g.Op("MatMul", x, w), b)
	y := g.Rename(g.Op("Relu", h), "y")
	g.Output(y, onnx.Float, onnx.Sym("batch"), onnx.Dim(2))

	data, err := onnx.NewModel(g).Marshal()
	if err != nil {
		fmt.Println(err)
		return
	}
	info, err := onnx.Inspect(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("inputs:", info.Inputs)
	fmt.Println("outputs:", info.Outputs)
	for _, n := range info.Nodes {
		fmt.Println(n.OpType, n.Inputs, "->", n.Outputs)
	}
	// Output:
	// inputs: [x: float32[batch 3]]
	// outputs: [y: float32[batch 2]]
	// MatMul [x W] -> [MatMul_0]
	// Add [MatMul_0 b] -> [Add_0]
	// Relu [Add_0] -> [y]
}

// Attributes and multi-output nodes: split a [batch, 6] tensor into three
// [batch, 2] parts.
func ExampleGraph_OpN() {
	g := onnx.NewGraph("split")
	x := g.Input("x", onnx.Float, onnx.Sym("batch"), onnx.Dim(6))
	parts := g.OpN("Split", []string{x, g.Ints(2, 2, 2)}, 3, onnx.AttrInt("axis", 1))
	for i, p := range parts {
		g.Output(g.Rename(p, fmt.Sprintf("part%d", i)), onnx.Float, onnx.Sym("batch"), onnx.Dim(2))
	}
	if err := g.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	n := g.Nodes[0]
	fmt.Println(n.OpType, n.Inputs, n.Outputs)
	// Output:
	// Split [x const_ints_0] [part0 part1 part2]
}
