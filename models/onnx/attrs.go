package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// AttrInfo is a node attribute as Inspect reads it. Which value field is
// set depends on Type: F (float), I (int), S (string), T (tensor), Floats,
// Ints. Graph-valued attributes (If, Loop) keep only their name.
type AttrInfo struct {
	Name   string
	Type   int32
	F      float32
	I      int64
	S      string
	T      *TensorInfo
	Floats []float32
	Ints   []int64
}

// Attr returns the node's attribute called name.
func (n NodeInfo) Attr(name string) (AttrInfo, bool) {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return AttrInfo{}, false
}

// AttrInt returns the int attribute called name, or def when absent.
func (n NodeInfo) AttrInt(name string, def int64) int64 {
	if a, ok := n.Attr(name); ok {
		return a.I
	}
	return def
}

// AttrFloat returns the float attribute called name, or def when absent.
func (n NodeInfo) AttrFloat(name string, def float32) float32 {
	if a, ok := n.Attr(name); ok {
		return a.F
	}
	return def
}

// AttrInts returns the ints attribute called name (nil when absent).
func (n NodeInfo) AttrInts(name string) []int64 {
	a, _ := n.Attr(name)
	return a.Ints
}

func inspectAttr(b []byte) (AttrInfo, error) {
	var a AttrInfo
	err := fields(b, func(num protowire.Number, typ protowire.Type, val []byte, v uint64) error {
		var err error
		switch num {
		case attrName:
			a.Name = string(val)
		case attrType:
			a.Type = int32(v)
		case attrF:
			a.F = math.Float32frombits(uint32(v))
		case attrI:
			a.I = int64(v)
		case attrS:
			a.S = string(val)
		case attrT:
			var t TensorInfo
			t, err = inspectTensor(val)
			a.T = &t
		case attrFloatsF:
			a.Floats, err = packedFloats(a.Floats, typ, val, v)
		case attrIntsF:
			a.Ints, err = varints(a.Ints, typ, val, v)
		}
		return err
	})
	if err != nil {
		return a, fmt.Errorf("attribute %q: %w", a.Name, err)
	}
	return a, nil
}

// packedFloats appends the values of a repeated float field that may be
// packed (BytesType) or not (Fixed32Type).
func packedFloats(dst []float32, typ protowire.Type, val []byte, v uint64) ([]float32, error) {
	if typ == protowire.Fixed32Type {
		return append(dst, math.Float32frombits(uint32(v))), nil
	}
	if typ != protowire.BytesType || len(val)%4 != 0 {
		return dst, errTruncated
	}
	for i := 0; i+4 <= len(val); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(val[i:])))
	}
	return dst, nil
}
