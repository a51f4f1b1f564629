package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Info is what Inspect reads back from an encoded model: enough to check
// a model's interface (inputs, outputs, opsets), its operators and its
// weights without ONNX Runtime.
type Info struct {
	IRVersion    int64
	ProducerName string
	Opsets       []Opset
	Metadata     map[string]string
	GraphName    string
	Inputs       []ValueInfo
	Outputs      []ValueInfo
	Nodes        []NodeInfo
	Initializers []TensorInfo
}

// NodeInfo is a node as Inspect reads it (attributes are listed by name).
type NodeInfo struct {
	OpType    string
	Domain    string
	Name      string
	Inputs    []string
	Outputs   []string
	AttrNames []string
	// Attrs are the attributes with their values, in file order.
	Attrs []AttrInfo
}

// TensorInfo is an initializer (or a tensor attribute) as Inspect reads
// it. Raw aliases the input bytes; tensors stored in typed fields keep
// their values in FloatData, Int64Data or Int32Data instead. External is
// true when the data lives in a separate file (data_location EXTERNAL),
// which Inspect does not follow.
type TensorInfo struct {
	Name      string
	Type      DataType
	Dims      []int64
	Raw       []byte
	FloatData []float32
	Int64Data []int64
	Int32Data []int32
	External  bool
}

// NumElements is the product of Dims (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Floats returns the values of a float32 tensor, from raw_data or
// float_data.
func (t TensorInfo) Floats() ([]float32, error) {
	if t.External {
		return nil, fmt.Errorf("tensor %q is stored in an external data file, which bertserve does not read; save the model with its weights inside the .onnx file (onnx.save(model, path, save_as_external_data=False))", t.Name)
	}
	if t.Type != Float {
		return nil, fmt.Errorf("tensor %q is %s, not float32", t.Name, t.Type)
	}
	var out []float32
	switch {
	case t.Raw != nil:
		if len(t.Raw)%4 != 0 {
			return nil, fmt.Errorf("tensor %q: %d raw bytes is not float32 data", t.Name, len(t.Raw))
		}
		out = make([]float32, len(t.Raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Raw[4*i:]))
		}
	default:
		out = t.FloatData
	}
	if int64(len(out)) != t.NumElements() {
		return nil, fmt.Errorf("tensor %q: shape %v holds %d elements, data has %d", t.Name, t.Dims, t.NumElements(), len(out))
	}
	return out, nil
}

// Ints returns the values of an int64 or int32 tensor as int64, from
// raw_data or the typed fields.
func (t TensorInfo) Ints() ([]int64, error) {
	if t.External {
		return nil, fmt.Errorf("tensor %q is stored in an external data file, which bertserve does not read", t.Name)
	}
	var out []int64
	switch {
	case t.Type == Int64 && t.Raw != nil:
		if len(t.Raw)%8 != 0 {
			return nil, fmt.Errorf("tensor %q: %d raw bytes is not int64 data", t.Name, len(t.Raw))
		}
		out = make([]int64, len(t.Raw)/8)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(t.Raw[8*i:]))
		}
	case t.Type == Int32 && t.Raw != nil:
		if len(t.Raw)%4 != 0 {
			return nil, fmt.Errorf("tensor %q: %d raw bytes is not int32 data", t.Name, len(t.Raw))
		}
		out = make([]int64, len(t.Raw)/4)
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(t.Raw[4*i:])))
		}
	case t.Type == Int64:
		out = t.Int64Data
	case t.Type == Int32:
		out = make([]int64, len(t.Int32Data))
		for i, v := range t.Int32Data {
			out[i] = int64(v)
		}
	default:
		return nil, fmt.Errorf("tensor %q is %s, not an integer tensor", t.Name, t.Type)
	}
	if int64(len(out)) != t.NumElements() {
		return nil, fmt.Errorf("tensor %q: shape %v holds %d elements, data has %d", t.Name, t.Dims, t.NumElements(), len(out))
	}
	return out, nil
}

// OpCounts returns how many nodes of each op type the graph has, keyed
// "Domain.OpType" for non-default domains.
func (info *Info) OpCounts() map[string]int {
	m := map[string]int{}
	for _, n := range info.Nodes {
		k := n.OpType
		if n.Domain != "" && n.Domain != "ai.onnx" {
			k = n.Domain + "." + k
		}
		m[k]++
	}
	return m
}

// Initializer returns the initializer called name.
func (info *Info) Initializer(name string) (TensorInfo, bool) {
	for _, t := range info.Initializers {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

var errTruncated = errors.New("truncated or malformed protobuf")

// fields walks the top-level fields of a protobuf message, calling fn
// with each field's number, wire type and value bytes (for varint and
// fixed fields, v holds the number).
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, val []byte, v uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		var (
			val []byte
			v   uint64
		)
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			val, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		if err := fn(num, typ, val, v); err != nil {
			return err
		}
	}
	return nil
}

// varints appends the values of a repeated int64 field that may be
// packed (BytesType) or not.
func varints(dst []int64, typ protowire.Type, val []byte, v uint64) ([]int64, error) {
	if typ == protowire.VarintType {
		return append(dst, int64(v)), nil
	}
	if typ != protowire.BytesType {
		return dst, errTruncated
	}
	for len(val) > 0 {
		x, n := protowire.ConsumeVarint(val)
		if n < 0 {
			return dst, errTruncated
		}
		dst = append(dst, int64(x))
		val = val[n:]
	}
	return dst, nil
}

// Inspect decodes the parts of an ONNX model that Info describes.
// Unknown fields are skipped, so models written by other tools
// (PyTorch, tf2onnx, optimum) can be inspected too.
func Inspect(data []byte) (*Info, error) {
	info := &Info{}
	err := fields(data, func(num protowire.Number, typ protowire.Type, val []byte, v uint64) error {
		switch num {
		case modelIRVersion:
			info.IRVersion = int64(v)
		case modelProducerName:
			info.ProducerName = string(val)
		case modelOpsetImport:
			var op Opset
			err := fields(val, func(num protowire.Number, _ protowire.Type, val []byte, v uint64) error {
				switch num {
				case opsetDomain:
					op.Domain = string(val)
				case opsetVersion:
					op.Version = int64(v)
				}
				return nil
			})
			info.Opsets = append(info.Opsets, op)
			return err
		case modelMetadataProps:
			var k, val2 string
			err := fields(val, func(num protowire.Number, _ protowire.Type, val []byte, _ uint64) error {
				switch num {
				case entryKey:
					k = string(val)
				case entryValue:
					val2 = string(val)
				}
				return nil
			})
			if info.Metadata == nil {
				info.Metadata = map[string]string{}
			}
			info.Metadata[k] = val2
			return err
		case modelGraph:
			if typ != protowire.BytesType {
				return errTruncated
			}
			return inspectGraph(info, val)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decoding ONNX model: %w", err)
	}
	if info.IRVersion == 0 || info.GraphName == "" && len(info.Nodes) == 0 && len(info.Outputs) == 0 {
		return nil, errors.New("decoding ONNX model: no IR version or graph (is this an .onnx file?)")
	}
	return info, nil
}

func inspectGraph(info *Info, b []byte) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, val []byte, v uint64) error {
		switch num {
		case graphName:
			info.GraphName = string(val)
		case graphNode:
			n, err := inspectNode(val)
			info.Nodes = append(info.Nodes, n)
			return err
		case graphInitializer:
			t, err := inspectTensor(val)
			info.Initializers = append(info.Initializers, t)
			return err
		case graphInput, graphOutput:
			vi, err := inspectValueInfo(val)
			if num == graphInput {
				info.Inputs = append(info.Inputs, vi)
			} else {
				info.Outputs = append(info.Outputs, vi)
			}
			return err
		}
		return nil
	})
}

func inspectNode(b []byte) (NodeInfo, error) {
	var n NodeInfo
	err := fields(b, func(num protowire.Number, _ protowire.Type, val []byte, _ uint64) error {
		switch num {
		case nodeInput:
			n.Inputs = append(n.Inputs, string(val))
		case nodeOutput:
			n.Outputs = append(n.Outputs, string(val))
		case nodeName:
			n.Name = string(val)
		case nodeOpType:
			n.OpType = string(val)
		case nodeDomain:
			n.Domain = string(val)
		case nodeAttribute:
			a, err := inspectAttr(val)
			n.AttrNames = append(n.AttrNames, a.Name)
			n.Attrs = append(n.Attrs, a)
			return err
		}
		return nil
	})
	return n, err
}

func inspectTensor(b []byte) (TensorInfo, error) {
	var t TensorInfo
	err := fields(b, func(num protowire.Number, typ protowire.Type, val []byte, v uint64) error {
		var err error
		switch num {
		case tensorDims:
			t.Dims, err = varints(t.Dims, typ, val, v)
		case tensorDataType:
			t.Type = DataType(v)
		case tensorName:
			t.Name = string(val)
		case tensorRawData:
			t.Raw = val
		case tensorFloatData:
			t.FloatData, err = packedFloats(t.FloatData, typ, val, v)
		case tensorInt64Data:
			t.Int64Data, err = varints(t.Int64Data, typ, val, v)
		case tensorInt32Data:
			var xs []int64
			xs, err = varints(nil, typ, val, v)
			for _, x := range xs {
				t.Int32Data = append(t.Int32Data, int32(x))
			}
		case tensorDataLocation:
			t.External = v == 1
		}
		return err
	})
	return t, err
}

func inspectValueInfo(b []byte) (ValueInfo, error) {
	var vi ValueInfo
	err := fields(b, func(num protowire.Number, _ protowire.Type, val []byte, _ uint64) error {
		switch num {
		case valueName:
			vi.Name = string(val)
		case valueType:
			return fields(val, func(num protowire.Number, _ protowire.Type, val []byte, _ uint64) error {
				if num != typeTensor {
					return nil
				}
				return fields(val, func(num protowire.Number, _ protowire.Type, val []byte, v uint64) error {
					switch num {
					case tensorElemType:
						vi.Type = DataType(v)
					case tensorShape:
						vi.Dims = []Dimension{}
						return fields(val, func(num protowire.Number, _ protowire.Type, val []byte, _ uint64) error {
							if num != shapeDim {
								return nil
							}
							var d Dimension
							err := fields(val, func(num protowire.Number, _ protowire.Type, val []byte, v uint64) error {
								switch num {
								case dimValue:
									d.Value = int64(v)
								case dimParam:
									d.Param = string(val)
								}
								return nil
							})
							vi.Dims = append(vi.Dims, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return vi, err
}
