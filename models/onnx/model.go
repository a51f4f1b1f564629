package onnx

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// Defaults used by NewModel.
const (
	// DefaultIRVersion is ONNX IR version 8 (ONNX 1.10+), the version that
	// pairs with opset 17.
	DefaultIRVersion = 8
	// DefaultOpset is the default-domain operator set version.
	DefaultOpset = 17
)

// Model is an ONNX ModelProto: a graph plus the operator sets and
// metadata a runtime needs to load it.
type Model struct {
	Graph           *Graph
	IRVersion       int64
	Opsets          []Opset
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	// Metadata becomes metadata_props (written in key order); ONNX Runtime
	// exposes it through the session's model metadata.
	Metadata map[string]string
}

// NewModel wraps g with IR version 8, opset 17 of the default domain and
// producer "bertserve".
func NewModel(g *Graph) *Model {
	return &Model{
		Graph:        g,
		IRVersion:    DefaultIRVersion,
		Opsets:       []Opset{{Domain: "", Version: DefaultOpset}},
		ProducerName: "bertserve",
	}
}

// ModelProto, GraphProto, ... field numbers from onnx/onnx.proto.
const (
	modelIRVersion       = 1
	modelProducerName    = 2
	modelProducerVersion = 3
	modelDomain          = 4
	modelModelVersion    = 5
	modelDocString       = 6
	modelGraph           = 7
	modelOpsetImport     = 8
	modelMetadataProps   = 14

	opsetDomain  = 1
	opsetVersion = 2

	entryKey   = 1
	entryValue = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphDocString   = 10
	graphInput       = 11
	graphOutput      = 12

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDomain    = 7

	attrName    = 1
	attrF       = 2
	attrI       = 3
	attrS       = 4
	attrT       = 5
	attrG       = 6
	attrFloatsF = 7
	attrIntsF   = 8
	attrStrsF   = 9
	attrType    = 20

	tensorDims         = 1
	tensorDataType     = 2
	tensorFloatData    = 4
	tensorInt32Data    = 5
	tensorInt64Data    = 7
	tensorName         = 8
	tensorRawData      = 9
	tensorDataLocation = 14

	valueName = 1
	valueType = 2

	typeTensor     = 1 // TypeProto.tensor_type
	tensorElemType = 1 // TypeProto.Tensor.elem_type
	tensorShape    = 2 // TypeProto.Tensor.shape
	shapeDim       = 1 // TensorShapeProto.dim
	dimValue       = 1 // TensorShapeProto.Dimension.dim_value
	dimParam       = 2 // TensorShapeProto.Dimension.dim_param
)

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// tensorHeader encodes every TensorProto field but raw_data. Repeated
// scalars are written unpacked, the proto2 default onnx.proto uses.
func tensorHeader(t *Tensor) []byte {
	var b []byte
	for _, d := range t.Dims {
		b = appendVarint(b, tensorDims, uint64(d))
	}
	b = appendVarint(b, tensorDataType, uint64(t.Type))
	if t.Name != "" {
		b = appendString(b, tensorName, t.Name)
	}
	return b
}

// tensorSize is the encoded size of the whole TensorProto.
func tensorSize(header []byte, t *Tensor) int {
	return len(header) + protowire.SizeTag(tensorRawData) + protowire.SizeBytes(t.rawLen())
}

func encodeTensor(t *Tensor) []byte {
	b := tensorHeader(t)
	b = protowire.AppendTag(b, tensorRawData, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(t.rawLen()))
	return t.appendRaw(b)
}

func encodeAttr(a Attr) []byte {
	b := appendString(nil, attrName, a.Name)
	b = appendVarint(b, attrType, uint64(a.kind))
	switch a.kind {
	case attrFloat:
		b = protowire.AppendTag(b, attrF, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = appendVarint(b, attrI, uint64(a.i))
	case attrString:
		b = appendString(b, attrS, a.s)
	case attrTensor:
		b = appendMessage(b, attrT, encodeTensor(a.t))
	case attrGraph:
		b = appendMessage(b, attrG, encodeSubgraph(a.g))
	case attrFloats:
		for _, f := range a.floats {
			b = protowire.AppendTag(b, attrFloatsF, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case attrInts:
		for _, v := range a.ints {
			b = appendVarint(b, attrIntsF, uint64(v))
		}
	case attrStrings:
		for _, s := range a.strings {
			b = appendString(b, attrStrsF, s)
		}
	}
	return b
}

// encodeSubgraph encodes a branch graph whole (its initializers are
// small constants; the model's weights live in the main graph).
func encodeSubgraph(g *Graph) []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendMessage(b, graphNode, encodeNode(n))
	}
	b = appendString(b, graphName, g.Name)
	for _, t := range g.Initializers {
		b = appendMessage(b, graphInitializer, encodeTensor(t))
	}
	for _, v := range g.Inputs {
		b = appendMessage(b, graphInput, encodeValueInfo(v))
	}
	for _, v := range g.Outputs {
		b = appendMessage(b, graphOutput, encodeValueInfo(v))
	}
	return b
}

func encodeNode(n *Node) []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = appendString(b, nodeInput, in)
	}
	for _, o := range n.Outputs {
		b = appendString(b, nodeOutput, o)
	}
	if n.Name != "" {
		b = appendString(b, nodeName, n.Name)
	}
	b = appendString(b, nodeOpType, n.OpType)
	for _, a := range n.Attrs {
		b = appendMessage(b, nodeAttribute, encodeAttr(a))
	}
	if n.Domain != "" {
		b = appendString(b, nodeDomain, n.Domain)
	}
	return b
}

func encodeValueInfo(v ValueInfo) []byte {
	tt := appendVarint(nil, tensorElemType, uint64(v.Type))
	if v.Dims != nil {
		var shape []byte
		for _, d := range v.Dims {
			var dim []byte
			switch {
			case d.Param != "":
				dim = appendString(dim, dimParam, d.Param)
			case d.Value > 0:
				dim = appendVarint(dim, dimValue, uint64(d.Value))
			}
			shape = appendMessage(shape, shapeDim, dim)
		}
		// An empty shape message means rank 0, so it is written even
		// when there are no dimensions.
		tt = appendMessage(tt, tensorShape, shape)
	}
	typ := appendMessage(nil, typeTensor, tt)
	b := appendString(nil, valueName, v.Name)
	return appendMessage(b, valueType, typ)
}

// encodeModelHead encodes the ModelProto fields that come before the
// graph.
func (m *Model) encodeModelHead() []byte {
	b := appendVarint(nil, modelIRVersion, uint64(m.IRVersion))
	if m.ProducerName != "" {
		b = appendString(b, modelProducerName, m.ProducerName)
	}
	if m.ProducerVersion != "" {
		b = appendString(b, modelProducerVersion, m.ProducerVersion)
	}
	if m.Domain != "" {
		b = appendString(b, modelDomain, m.Domain)
	}
	if m.ModelVersion != 0 {
		b = appendVarint(b, modelModelVersion, uint64(m.ModelVersion))
	}
	if m.DocString != "" {
		b = appendString(b, modelDocString, m.DocString)
	}
	for _, op := range m.Opsets {
		var o []byte
		if op.Domain != "" {
			o = appendString(o, opsetDomain, op.Domain)
		}
		o = appendVarint(o, opsetVersion, uint64(op.Version))
		b = appendMessage(b, modelOpsetImport, o)
	}
	keys := make([]string, 0, len(m.Metadata))
	for k := range m.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := appendString(nil, entryKey, k)
		e = appendString(e, entryValue, m.Metadata[k])
		b = appendMessage(b, modelMetadataProps, e)
	}
	return b
}

// WriteTo validates the graph and streams the encoded model to w. Weights
// are converted to bytes as they are written, so memory use stays near
// the size of the weights themselves.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	g := m.Graph
	if err := g.Validate(); err != nil {
		return 0, err
	}
	// Everything except initializer data is small: encode it up front so
	// the graph's length prefix can be computed.
	var pre []byte // nodes, name
	for _, n := range g.Nodes {
		pre = appendMessage(pre, graphNode, encodeNode(n))
	}
	pre = appendString(pre, graphName, g.Name)
	headers := make([][]byte, len(g.Initializers))
	graphLen := len(pre)
	for i, t := range g.Initializers {
		headers[i] = tensorHeader(t)
		graphLen += protowire.SizeTag(graphInitializer) + protowire.SizeBytes(tensorSize(headers[i], t))
	}
	var post []byte // doc string, inputs, outputs
	if g.DocString != "" {
		post = appendString(post, graphDocString, g.DocString)
	}
	for _, v := range g.Inputs {
		post = appendMessage(post, graphInput, encodeValueInfo(v))
	}
	for _, v := range g.Outputs {
		post = appendMessage(post, graphOutput, encodeValueInfo(v))
	}
	graphLen += len(post)

	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<16)
	head := m.encodeModelHead()
	head = protowire.AppendTag(head, modelGraph, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(graphLen))
	head = append(head, pre...)
	if _, err := bw.Write(head); err != nil {
		return cw.n, err
	}
	var buf []byte
	for i, t := range g.Initializers {
		buf = protowire.AppendTag(buf[:0], graphInitializer, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(tensorSize(headers[i], t)))
		buf = append(buf, headers[i]...)
		buf = protowire.AppendTag(buf, tensorRawData, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(t.rawLen()))
		if _, err := bw.Write(buf); err != nil {
			return cw.n, err
		}
		if err := writeRaw(bw, t); err != nil {
			return cw.n, err
		}
	}
	if _, err := bw.Write(post); err != nil {
		return cw.n, err
	}
	err := bw.Flush()
	return cw.n, err
}

// writeRaw writes a tensor's element bytes in bounded chunks.
func writeRaw(w io.Writer, t *Tensor) error {
	const chunk = 1 << 14
	switch {
	case t.Float32 != nil:
		for lo := 0; lo < len(t.Float32); lo += chunk {
			part := Tensor{Float32: t.Float32[lo:min(lo+chunk, len(t.Float32))]}
			if _, err := w.Write(part.appendRaw(nil)); err != nil {
				return err
			}
		}
		return nil
	case t.Int64 != nil:
		_, err := w.Write(t.appendRaw(nil))
		return err
	}
	_, err := w.Write(t.Raw)
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Marshal validates the graph and returns the encoded model.
func (m *Model) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFile writes the model to path atomically (temporary file, then
// rename).
func (m *Model) WriteFile(path string) error {
	if err := m.Graph.Validate(); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := m.WriteTo(w)
		return err
	})
}
