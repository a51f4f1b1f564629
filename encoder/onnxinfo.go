package encoder

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// graphIO lists the names of an ONNX model's graph inputs and outputs
// (ModelProto.graph = 7; GraphProto.input = 11, output = 12,
// initializer = 5; ValueInfoProto.name = 1). Inputs that are also
// initializers (old exporters list weights as inputs) are dropped. Reading
// the names from the bytes we load anyway avoids creating a throw-away
// ONNX Runtime session just to ask.
func graphIO(model []byte) (inputs, outputs []string, err error) {
	graph, err := field(model, 7)
	if err != nil {
		return nil, nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	if graph == nil {
		return nil, nil, errors.New("not an ONNX model: no graph")
	}
	inits := map[string]bool{}
	b := graph
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return nil, nil, protowire.ParseError(m)
			}
			b = b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return nil, nil, protowire.ParseError(m)
		}
		b = b[m:]
		switch num {
		case 11, 12:
			nb, err := field(v, 1)
			if err != nil {
				return nil, nil, err
			}
			if num == 11 {
				inputs = append(inputs, string(nb))
			} else {
				outputs = append(outputs, string(nb))
			}
		case 5:
			nb, err := field(v, 8) // TensorProto.name = 8
			if err != nil {
				return nil, nil, err
			}
			inits[string(nb)] = true
		}
	}
	kept := inputs[:0]
	for _, in := range inputs {
		if !inits[in] {
			kept = append(kept, in)
		}
	}
	return kept, outputs, nil
}

// field returns the last length-delimited value of field num in a message.
func field(msg []byte, num protowire.Number) ([]byte, error) {
	var out []byte
	for len(msg) > 0 {
		n, typ, k := protowire.ConsumeTag(msg)
		if k < 0 {
			return nil, protowire.ParseError(k)
		}
		msg = msg[k:]
		if n == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			out = v
			msg = msg[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(n, typ, msg)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		msg = msg[m:]
	}
	return out, nil
}
