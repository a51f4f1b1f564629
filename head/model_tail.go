package head

import (
	"errors"
	"fmt"
	"slices"

	"github.com/bertserve/bertserve/models/safetensors"
)

// newTailedModel wraps a trained head and a merged tail.
func newTailedModel(a arch, net *network[float32], merged *TailWeights, tailParams int) (*Model, error) {
	inf, err := buildTail[float32](merged, TrainConfig{Tune: TuneNone}, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("merged tail: %w", err)
	}
	m := &Model{meta: a.meta(net), net: net, tail: inf, tailW: merged}
	m.meta.Tail = &TailInfo{TailSpec: merged.Spec}
	m.meta.Params.Tail = tailParams
	m.meta.Params.Total += tailParams
	return m, nil
}

// HasTail reports whether the head owns encoder layers (trained with
// tune lora or top): its input is then the hidden state below
// Tail().Spec.FirstLayer, pooled through the tail.
func (m *Model) HasTail() bool { return m.tail != nil }

// Tail returns a copy of the merged tail weights (nil without a tail),
// in canonical names: what models/ builds tail.onnx from.
func (m *Model) Tail() *TailWeights {
	if m.tailW == nil {
		return nil
	}
	return m.tailW.Clone()
}

// SetTailDigests records the digest of the encoder whose bottom feeds
// the tail and of the tail graph written next to the head.
func (m *Model) SetTailDigests(baseEncoder, tailGraph string) error {
	if m.meta.Tail == nil {
		return errors.New("the head has no tail")
	}
	m.meta.Tail.BaseEncoderDigest, m.meta.Tail.TailDigest = baseEncoder, tailGraph
	return nil
}

// EmbedSeq runs the tail in Go over hidden states below the split and
// returns the pooled (and, as the spec says, normalised) embedding of
// each sequence: the reference for tail.onnx and the input of
// PredictProba. It is safe for concurrent use.
func (m *Model) EmbedSeq(seqs Sequences) ([][]float32, error) {
	if m.tail == nil {
		return nil, errors.New("the head has no tail: it takes pooled embeddings (PredictProba)")
	}
	if seqs.Hidden() != m.tailW.Spec.Hidden {
		return nil, fmt.Errorf("hidden states have width %d, the head's tail %d: compute them with the head's encoder", seqs.Hidden(), m.tailW.Spec.Hidden)
	}
	e, err := embedSeqsErr(m.tail, seqs)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, e.Rows)
	for i := range out {
		out[i] = e.Row(i)[:e.Cols:e.Cols]
	}
	return out, nil
}

// PredictProbaSeq is EmbedSeq followed by PredictProba.
func (m *Model) PredictProbaSeq(seqs Sequences) ([][]float64, error) {
	e, err := m.EmbedSeq(seqs)
	if err != nil {
		return nil, err
	}
	return m.PredictProba(e)
}

// EmbedSeqDataset turns a labelled set of hidden states into a Dataset
// of the head's pooled embeddings, for Evaluate and ErrorAnalysis.
func EmbedSeqDataset(m *Model, d *SeqDataset) (*Dataset, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	x, err := m.EmbedSeq(d.X)
	if err != nil {
		return nil, err
	}
	return &Dataset{X: x, Y: d.Y, Labels: d.Labels, Texts: d.Texts}, nil
}

// tensorShapes lists the tail tensors head.safetensors holds.
func (t *TailInfo) tensorShapes() map[string][]int {
	s := map[string][]int{}
	for j := 0; j < t.NumLayers; j++ {
		for _, name := range LayerTensors {
			s[layerPrefix(j)+name], _ = t.TensorShape(name)
		}
	}
	if t.FinalLayerNorm {
		for _, name := range FinalTensors {
			s[tailPrefix+name], _ = t.TensorShape(name)
		}
	}
	return s
}

// tailTensors returns the merged tail under its head.safetensors names.
func (m *Model) tailTensors() map[string]safetensors.Tensor {
	out := map[string]safetensors.Tensor{}
	if m.tailW == nil {
		return out
	}
	for j, l := range m.tailW.Layers {
		for name, data := range l {
			shape, _ := m.tailW.Spec.TensorShape(name)
			out[layerPrefix(j)+name] = safetensors.Tensor{Shape: shape, Data: slices.Clone(data)}
		}
	}
	for name, data := range m.tailW.Final {
		shape, _ := m.tailW.Spec.TensorShape(name)
		out[tailPrefix+name] = safetensors.Tensor{Shape: shape, Data: slices.Clone(data)}
	}
	return out
}

// loadTail rebuilds the merged tail from head.safetensors (names and
// shapes were checked against head.json).
func (m *Model) loadTail(ts map[string]safetensors.Tensor) error {
	spec := m.meta.Tail.TailSpec
	w := &TailWeights{Spec: spec, Layers: make([]map[string][]float32, spec.NumLayers)}
	for j := range w.Layers {
		w.Layers[j] = map[string][]float32{}
		for _, name := range LayerTensors {
			w.Layers[j][name] = ts[layerPrefix(j)+name].Data
		}
	}
	if spec.FinalLayerNorm {
		w.Final = map[string][]float32{}
		for _, name := range FinalTensors {
			w.Final[name] = ts[tailPrefix+name].Data
		}
	}
	inf, err := buildTail[float32](w, TrainConfig{Tune: TuneNone}, nil, nil)
	if err != nil {
		return err
	}
	m.tail, m.tailW = inf, w
	return nil
}
