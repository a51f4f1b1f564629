package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DataType is an ONNX TensorProto.DataType element type.
type DataType int32

// Element types, numbered as in onnx.proto's TensorProto.DataType.
const (
	Undefined DataType = 0
	Float     DataType = 1
	Uint8     DataType = 2
	Int8      DataType = 3
	Uint16    DataType = 4
	Int16     DataType = 5
	Int32     DataType = 6
	Int64     DataType = 7
	String    DataType = 8
	Bool      DataType = 9
	Float16   DataType = 10
	Double    DataType = 11
	Uint32    DataType = 12
	Uint64    DataType = 13
	BFloat16  DataType = 16
)

var dataTypeNames = map[DataType]string{
	Undefined: "undefined", Float: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float16: "float16", Double: "float64",
	Uint32: "uint32", Uint64: "uint64", BFloat16: "bfloat16",
}

func (d DataType) String() string {
	if s, ok := dataTypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("DataType(%d)", int32(d))
}

// Size returns the number of bytes one element takes in raw_data, or 0
// for types that cannot be stored raw (String, Undefined, unknown types).
func (d DataType) Size() int {
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float, Int32, Uint32:
		return 4
	case Int64, Double, Uint64:
		return 8
	}
	return 0
}

// Dimension is one dimension of a graph input or output: a fixed size
// (Value) or a symbolic name (Param) such as "batch" that ONNX Runtime
// binds at run time. The zero Dimension is an unknown dimension.
type Dimension struct {
	Value int64
	Param string
}

// Dim returns a fixed dimension of size n.
func Dim(n int64) Dimension { return Dimension{Value: n} }

// Sym returns a symbolic (dynamic) dimension named name.
func Sym(name string) Dimension { return Dimension{Param: name} }

func (d Dimension) String() string {
	switch {
	case d.Param != "":
		return d.Param
	case d.Value > 0:
		return fmt.Sprint(d.Value)
	}
	return "?"
}

// ValueInfo describes a typed tensor value: a graph input or output.
type ValueInfo struct {
	Name string
	Type DataType
	// Dims is the shape; nil means the rank is unknown.
	Dims []Dimension
}

func (v ValueInfo) String() string {
	return fmt.Sprintf("%s: %s%v", v.Name, v.Type, v.Dims)
}

// Tensor is a constant tensor: a graph initializer or a tensor attribute.
// Exactly one of Float32, Int64 or Raw holds the elements in row-major
// order; Raw is little-endian bytes of Type.
type Tensor struct {
	Name    string
	Type    DataType
	Dims    []int64
	Float32 []float32
	Int64   []int64
	Raw     []byte
}

// FloatTensor returns a float32 tensor. data is not copied.
func FloatTensor(name string, dims []int64, data []float32) Tensor {
	return Tensor{Name: name, Type: Float, Dims: dims, Float32: data}
}

// Int64Tensor returns an int64 tensor. data is not copied.
func Int64Tensor(name string, dims []int64, data []int64) Tensor {
	return Tensor{Name: name, Type: Int64, Dims: dims, Int64: data}
}

// NumElements is the product of Dims (1 for a scalar).
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// check reports whether the data matches the type and the shape.
func (t *Tensor) check() error {
	for _, d := range t.Dims {
		if d < 0 {
			return fmt.Errorf("tensor %q: negative dimension in %v", t.Name, t.Dims)
		}
	}
	n := t.NumElements()
	set := 0
	var got int64
	if t.Float32 != nil {
		set++
		got = int64(len(t.Float32))
		if t.Type != Float {
			return fmt.Errorf("tensor %q: Float32 data for type %s", t.Name, t.Type)
		}
	}
	if t.Int64 != nil {
		set++
		got = int64(len(t.Int64))
		if t.Type != Int64 {
			return fmt.Errorf("tensor %q: Int64 data for type %s", t.Name, t.Type)
		}
	}
	if t.Raw != nil {
		set++
		size := int64(t.Type.Size())
		if size == 0 {
			return fmt.Errorf("tensor %q: type %s cannot be stored as raw bytes", t.Name, t.Type)
		}
		if int64(len(t.Raw))%size != 0 {
			return fmt.Errorf("tensor %q: %d raw bytes is not a whole number of %s elements", t.Name, len(t.Raw), t.Type)
		}
		got = int64(len(t.Raw)) / size
	}
	if set > 1 {
		return fmt.Errorf("tensor %q: more than one of Float32, Int64, Raw is set", t.Name)
	}
	if set == 0 && n != 0 {
		return fmt.Errorf("tensor %q: shape %v but no data", t.Name, t.Dims)
	}
	if got != n && set == 1 {
		return fmt.Errorf("tensor %q: shape %v holds %d elements, data has %d", t.Name, t.Dims, n, got)
	}
	return nil
}

// rawLen is the number of raw_data bytes the tensor encodes to.
func (t *Tensor) rawLen() int {
	switch {
	case t.Float32 != nil:
		return 4 * len(t.Float32)
	case t.Int64 != nil:
		return 8 * len(t.Int64)
	}
	return len(t.Raw)
}

// appendRaw appends the little-endian element bytes to b.
func (t *Tensor) appendRaw(b []byte) []byte {
	switch {
	case t.Float32 != nil:
		for _, v := range t.Float32 {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	case t.Int64 != nil:
		for _, v := range t.Int64 {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	default:
		b = append(b, t.Raw...)
	}
	return b
}

type attrKind int32

// AttributeProto.AttributeType values.
const (
	attrFloat   attrKind = 1
	attrInt     attrKind = 2
	attrString  attrKind = 3
	attrTensor  attrKind = 4
	attrGraph   attrKind = 5
	attrFloats  attrKind = 6
	attrInts    attrKind = 7
	attrStrings attrKind = 8
)

// Attr is a node attribute. Build one with AttrInt, AttrFloat, AttrString,
// AttrInts, AttrFloats, AttrStrings or AttrTensor.
type Attr struct {
	Name    string
	kind    attrKind
	i       int64
	f       float32
	s       string
	ints    []int64
	floats  []float32
	strings []string
	t       *Tensor
	g       *Graph
}

// AttrInt is an int attribute, e.g. AttrInt("axis", -1).
func AttrInt(name string, v int64) Attr { return Attr{Name: name, kind: attrInt, i: v} }

// AttrFloat is a float attribute, e.g. AttrFloat("epsilon", 1e-12).
func AttrFloat(name string, v float32) Attr { return Attr{Name: name, kind: attrFloat, f: v} }

// AttrString is a string attribute, e.g. AttrString("mode", "constant").
func AttrString(name, v string) Attr { return Attr{Name: name, kind: attrString, s: v} }

// AttrInts is an ints attribute, e.g. AttrInts("perm", 0, 2, 1, 3).
func AttrInts(name string, v ...int64) Attr { return Attr{Name: name, kind: attrInts, ints: v} }

// AttrFloats is a floats attribute.
func AttrFloats(name string, v ...float32) Attr { return Attr{Name: name, kind: attrFloats, floats: v} }

// AttrStrings is a strings attribute.
func AttrStrings(name string, v ...string) Attr {
	return Attr{Name: name, kind: attrStrings, strings: v}
}

// AttrTensor is a tensor attribute, e.g. the "value" of a Constant or
// ConstantOfShape node.
func AttrTensor(name string, t Tensor) Attr { return Attr{Name: name, kind: attrTensor, t: &t} }

// AttrGraph is a graph attribute: the then_branch and else_branch of an
// If (see Graph.If).
func AttrGraph(name string, g *Graph) Attr { return Attr{Name: name, kind: attrGraph, g: g} }

// Node is one operator application. Domain "" is the default ONNX domain.
// An empty input name marks an omitted optional input.
type Node struct {
	OpType  string
	Domain  string
	Name    string
	Inputs  []string
	Outputs []string
	Attrs   []Attr
}

// Opset is an operator set import: a domain ("" for the default ONNX
// domain) and its version.
type Opset struct {
	Domain  string
	Version int64
}
