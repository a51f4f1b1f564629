// Package onnx writes ONNX models (https://onnx.ai) from Go without any
// protobuf code generation or dependency beyond
// google.golang.org/protobuf/encoding/protowire. It encodes the handful of
// messages an inference graph needs (ModelProto, GraphProto, NodeProto,
// TensorProto, ValueInfoProto, AttributeProto) by their field numbers in
// onnx/onnx.proto, and reads enough of a model back (Inspect) to check what
// was written.
//
// A model is built with a Graph: declare inputs and outputs with static or
// symbolic dimensions, add initializers (weights) and nodes, then wrap the
// graph in a Model and marshal it:
//
//	g := onnx.NewGraph("tiny")
//	x := g.Input("x", onnx.Float, onnx.Sym("batch"), onnx.Dim(4))
//	w := g.InitFloat("w", []int64{4, 2}, weights)
//	y := g.Op("MatMul", x, w)
//	g.Output(g.Rename(y, "y"), onnx.Float, onnx.Sym("batch"), onnx.Dim(2))
//	data, err := onnx.NewModel(g).Marshal()
//
// Node outputs get fresh names ("MatMul_0", "MatMul_1", ...) unless a node is
// added with explicit output names through Node. Validate (called by
// Marshal) checks that every node input is a graph input, an initializer or
// the output of an earlier node, that names are not produced twice and that
// every graph output is produced, so a mistake in a builder is reported in Go
// with the offending name instead of as an ONNX Runtime load failure.
//
// The default model targets IR version 8 and opset 17 of the default ONNX
// domain (LayerNormalization is available from opset 17); Model.Opsets can
// add or change operator sets, e.g. "com.microsoft" for ONNX Runtime
// contrib ops.
//
// Weights are stored as raw_data in little-endian order. Model.WriteTo
// streams initializer bytes without building the whole file in memory a
// second time, which matters for encoders of several hundred megabytes; the
// protobuf format itself limits a model to 2 GiB.
package onnx
