package uselite

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// TFJSTensor is one weight of a TF.js graph model.
type TFJSTensor struct {
	Name  string
	Shape []int
	// DType is "float32" or "int32"; exactly one of Float32 and Int32 holds
	// the values.
	DType   string
	Float32 []float32
	Int32   []int32
}

// Len is the number of elements the shape holds.
func (t *TFJSTensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// TFJSModel is what ReadTFJS reads: the weights in manifest order and the
// graph's node names and ops (enough to check that a model.json is the
// graph a converter expects).
type TFJSModel struct {
	Weights []*TFJSTensor
	byName  map[string]*TFJSTensor
	// Ops maps each graph node name to its TensorFlow op.
	Ops map[string]string
}

// Weight returns the weight called name.
func (m *TFJSModel) Weight(name string) (*TFJSTensor, bool) {
	t, ok := m.byName[name]
	return t, ok
}

type tfjsModelJSON struct {
	ModelTopology struct {
		Node []struct {
			Name string `json:"name"`
			Op   string `json:"op"`
		} `json:"node"`
	} `json:"modelTopology"`
	WeightsManifest []struct {
		Paths   []string `json:"paths"`
		Weights []struct {
			Name         string          `json:"name"`
			Shape        []int           `json:"shape"`
			DType        string          `json:"dtype"`
			Quantization json.RawMessage `json:"quantization"`
		} `json:"weights"`
	} `json:"weightsManifest"`
}

// maxWeightBytes bounds what ReadTFJS will allocate for one model.
const maxWeightBytes = 1 << 31

// ReadTFJS reads a TF.js graph model: dir/model.json and the weight shards
// its weightsManifest names. Each manifest group's shards are concatenated
// in order and hold the group's tensors back to back, 4 little-endian bytes
// per element. Only unquantized float32 and int32 weights are supported;
// shard sizes must add up to exactly what the manifest describes.
func ReadTFJS(dir string) (*TFJSModel, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the TF.js model: %w", err)
	}
	return parseTFJS(raw, func(name string) (io.ReadCloser, error) {
		if name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return nil, fmt.Errorf("weight shard path %q leaves the model directory", name)
		}
		return os.Open(filepath.Join(dir, name))
	})
}

func parseTFJS(raw []byte, open func(string) (io.ReadCloser, error)) (*TFJSModel, error) {
	var mj tfjsModelJSON
	if err := json.Unmarshal(raw, &mj); err != nil {
		return nil, fmt.Errorf("model.json is not valid JSON: %w", err)
	}
	if len(mj.WeightsManifest) == 0 {
		return nil, fmt.Errorf("model.json has no weightsManifest: not a TF.js graph model with weights")
	}
	m := &TFJSModel{byName: map[string]*TFJSTensor{}, Ops: map[string]string{}}
	for _, n := range mj.ModelTopology.Node {
		m.Ops[n.Name] = n.Op
	}
	total := 0
	for gi, g := range mj.WeightsManifest {
		var want int
		group := make([]*TFJSTensor, 0, len(g.Weights))
		for _, w := range g.Weights {
			if len(w.Quantization) > 0 && string(w.Quantization) != "null" {
				return nil, fmt.Errorf("weight %s is quantized; only unquantized float32/int32 weights are supported", w.Name)
			}
			if w.DType != "float32" && w.DType != "int32" {
				return nil, fmt.Errorf("weight %s has dtype %q; only float32 and int32 are supported", w.Name, w.DType)
			}
			if _, dup := m.byName[w.Name]; dup {
				return nil, fmt.Errorf("weight %s appears twice in the manifest", w.Name)
			}
			t := &TFJSTensor{Name: w.Name, Shape: w.Shape, DType: w.DType}
			n := 1
			for _, d := range w.Shape {
				if d < 0 || (d > 0 && n > maxWeightBytes/4/d) {
					return nil, fmt.Errorf("weight %s has shape %v: negative or too large", w.Name, w.Shape)
				}
				n *= d
			}
			want += 4 * n
			total += 4 * n
			if total > maxWeightBytes {
				return nil, fmt.Errorf("the weights manifest describes more than %d bytes", maxWeightBytes)
			}
			m.byName[w.Name] = t
			group = append(group, t)
		}
		buf, err := readShards(g.Paths, want, open)
		if err != nil {
			return nil, fmt.Errorf("weight group %d: %w", gi, err)
		}
		off := 0
		for _, t := range group {
			n := t.Len()
			b := buf[off : off+4*n]
			off += 4 * n
			if t.DType == "float32" {
				t.Float32 = make([]float32, n)
				for i := range t.Float32 {
					t.Float32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				}
			} else {
				t.Int32 = make([]int32, n)
				for i := range t.Int32 {
					t.Int32[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
				}
			}
			m.Weights = append(m.Weights, t)
		}
	}
	return m, nil
}

// readShards concatenates the shards of one group and checks that they hold
// exactly want bytes.
func readShards(paths []string, want int, open func(string) (io.ReadCloser, error)) ([]byte, error) {
	buf := make([]byte, 0, want)
	for _, p := range paths {
		f, err := open(p)
		if err != nil {
			return nil, fmt.Errorf("opening weight shard: %w", err)
		}
		// Read at most one byte beyond what the manifest allows, to detect
		// oversized shards without reading them whole.
		b, err := io.ReadAll(io.LimitReader(f, int64(want-len(buf)+1)))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading weight shard %s: %w", p, err)
		}
		buf = append(buf, b...)
		if len(buf) > want {
			return nil, fmt.Errorf("weight shards hold more bytes than the %d the manifest describes (at %s)", want, p)
		}
	}
	if len(buf) != want {
		return nil, fmt.Errorf("weight shards hold %d bytes, the manifest describes %d: a shard is missing or truncated", len(buf), want)
	}
	return buf, nil
}
