package head

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/bertserve/bertserve/head/curve"
	"github.com/bertserve/bertserve/head/internal/nn"
	"github.com/bertserve/bertserve/head/metrics"
)

// Metrics is the evaluation report of package metrics.
type Metrics = metrics.Metrics

// Format identifies head.json files.
const (
	FormatName    = "bertserve-head"
	FormatVersion = 1
)

// Meta is the content of head.json: everything about a head except its
// tensors.
type Meta struct {
	Format    string                      `json:"format"`
	Version   int                         `json:"version"`
	Labels    []string                    `json:"labels"`
	Dim       int                         `json:"dim"`
	Head      HeadSpec                    `json:"head"`
	Tail      *TailInfo                   `json:"tail,omitempty"`
	Params    ParamCounts                 `json:"params"`
	Encoder   EncoderInfo                 `json:"encoder"`
	Training  *TrainConfig                `json:"training,omitempty"`
	Result    *TrainResult                `json:"result,omitempty"`
	Metrics   map[string]*metrics.Metrics `json:"metrics,omitempty"`
	Curves    *curve.History              `json:"curves,omitempty"`
	Diagnosis *curve.Diagnosis            `json:"diagnosis,omitempty"`
}

// HeadSpec describes the head's layers.
type HeadSpec struct {
	Kind       string  `json:"kind"`
	Hidden     []int   `json:"hidden,omitempty"`
	Activation string  `json:"activation,omitempty"`
	Dropout    float64 `json:"dropout,omitempty"`
}

// ParamCounts counts trainable scalars.
type ParamCounts struct {
	Head int `json:"head"`
	// Tail counts the encoder-layer scalars trained (LoRA's A and B, or
	// the unfrozen layers); the merged tail saved is larger.
	Tail  int `json:"tail,omitempty"`
	Total int `json:"total"`
}

// EncoderInfo records the encoder a head was trained on. The CLI fills it
// with SetEncoder before Save; a head trained on .npy embeddings from
// elsewhere may leave Name and Digest empty.
type EncoderInfo struct {
	Name      string `json:"name,omitempty"`
	Digest    string `json:"digest,omitempty"`
	Pooling   string `json:"pooling,omitempty"`
	Normalize bool   `json:"normalize"`
	MaxLength int    `json:"max_length,omitempty"`
	// QuantizedFrom is, when the encoder was an int8 quantization, the
	// digest of the float32 encoder it was quantized from.
	QuantizedFrom string `json:"quantized_from,omitempty"`
	// Path is the model directory the encoder was opened from (absolute),
	// and Source where that model came from (its manifest's source, e.g.
	// hf:org/name@rev): predict and eval find the encoder again by them.
	Path   string `json:"path,omitempty"`
	Source string `json:"source,omitempty"`
}

// TrainResult summarises a training run.
type TrainResult struct {
	Optimizer    string `json:"optimizer"`
	Epochs       int    `json:"epochs"`
	BestEpoch    int    `json:"best_epoch,omitempty"`
	StoppedEarly bool   `json:"stopped_early,omitempty"`
	Converged    bool   `json:"converged,omitempty"`
	TrainRows    int    `json:"train_rows"`
	ValRows      int    `json:"val_rows"`
}

// Model is a trained head. PredictProba, Labels, Dim and Meta are safe
// for concurrent use; the Set methods are for preparing a model before
// it is shared or saved.
type Model struct {
	meta Meta
	net  *network[float32]
	// tail and tailW are the merged tail of a head trained inside the
	// encoder (nil otherwise): the inference network and its weights.
	tail  *nn.TailNet[float32]
	tailW *TailWeights
}

func (a arch) meta(net *network[float32]) Meta {
	m := Meta{Format: FormatName, Version: FormatVersion, Dim: a.Dim,
		Head:   HeadSpec{Kind: a.Head, Hidden: a.Hidden, Activation: a.Activation, Dropout: a.Dropout},
		Params: ParamCounts{Head: net.headParams, Total: net.headParams}}
	return m
}

// archFromMeta recovers the architecture recorded in head.json.
func archFromMeta(m Meta) arch {
	return arch{Head: m.Head.Kind, Hidden: m.Head.Hidden, Activation: m.Head.Activation, Dropout: m.Head.Dropout,
		Dim: m.Dim, Classes: len(m.Labels)}
}

// Labels returns the class names; PredictProba's columns follow them.
func (m *Model) Labels() []string { return append([]string(nil), m.meta.Labels...) }

// Dim returns the embedding width the head expects.
func (m *Model) Dim() int { return m.meta.Dim }

// Meta returns the head.json content. The label list and the metrics map
// are copies; the metrics and curves they point to are shared and must
// not be modified.
func (m *Model) Meta() Meta {
	meta := m.meta
	meta.Labels = slices.Clone(m.meta.Labels)
	if m.meta.Metrics != nil {
		meta.Metrics = maps.Clone(m.meta.Metrics)
	}
	return meta
}

// SetEncoder records the encoder the head was trained on.
func (m *Model) SetEncoder(e EncoderInfo) { m.meta.Encoder = e }

// SetMetrics records an evaluation under a split name such as "test".
func (m *Model) SetMetrics(split string, mt *Metrics) {
	if m.meta.Metrics == nil {
		m.meta.Metrics = map[string]*metrics.Metrics{}
	}
	m.meta.Metrics[split] = mt
}

// inferChunk bounds the rows per product at inference.
const inferChunk = 2048

// PredictProba returns one probability row per embedding, columns in
// Labels order. Every row must have Dim finite values.
func (m *Model) PredictProba(x [][]float32) ([][]float64, error) {
	for i, row := range x {
		if len(row) != m.meta.Dim {
			return nil, fmt.Errorf("row %d has %d values, the head expects %d (dimension mismatch: was it trained on another encoder?)", i+1, len(row), m.meta.Dim)
		}
		for j, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("row %d: embedding value %d is %v", i+1, j+1, v)
			}
		}
	}
	out := make([][]float64, 0, len(x))
	for lo := 0; lo < len(x); lo += inferChunk {
		hi := min(lo+inferChunk, len(x))
		batch := nn.NewMat[float32](hi-lo, m.meta.Dim)
		for i := lo; i < hi; i++ {
			copy(batch.Row(i-lo), x[i])
		}
		out = append(out, nn.Softmax(m.net.seq.Infer(batch))...)
	}
	return out, nil
}

// Predict returns the most probable class index of each row.
func (m *Model) Predict(x [][]float32) ([]int, error) {
	probs, err := m.PredictProba(x)
	if err != nil {
		return nil, err
	}
	pred := make([]int, len(probs))
	for i, p := range probs {
		pred[i] = metrics.Argmax(p)
	}
	return pred, nil
}

// CheckEncoder verifies that an encoder with this digest and dimension
// can feed the head. A different dimension is always an error; a
// different (or unrecorded) digest is an error unless force is set, in
// which case a dimension-compatible encoder is accepted.
func (m *Model) CheckEncoder(digest string, dim int, force bool) error {
	_, err := m.AcceptEncoder(digest, "", dim, force)
	return err
}

// AcceptEncoder is CheckEncoder for an encoder that may be a quantized
// variant: quantizedFrom is the digest of the float32 encoder an int8
// encoder was quantized from, or a fused float32 one rebuilt from (""
// for a plain float32 encoder). A head is
// accepted, with a note saying so, by another variant of the encoder it
// was trained on: the int8 quantization of its float32 encoder, the
// float32 source of its int8 encoder, or another int8 quantization of
// the same float32 encoder (their embeddings have cosine ≥ 0.99 and
// heads keep their accuracy within 0.5 points: BENCHMARKS.md, issue 11).
// A head that owns encoder layers (a tail) runs them on the hidden states
// of the exact encoder it was trained on, so it is not.
func (m *Model) AcceptEncoder(digest, quantizedFrom string, dim int, force bool) (note string, err error) {
	want := m.meta.Encoder
	if dim != m.meta.Dim {
		return "", fmt.Errorf("encoder %s gives %d-dim embeddings, but the head expects %d (trained on %s); retrain the head on this encoder",
			encName(want.Name, digest, true), dim, m.meta.Dim, encName(want.Name, want.Digest, false))
	}
	if want.Digest == digest && digest != "" {
		return "", nil
	}
	base := func(d, from string) string {
		if from != "" {
			return from
		}
		return d
	}
	if want.Digest != "" && digest != "" && base(want.Digest, want.QuantizedFrom) == base(digest, quantizedFrom) {
		if m.HasTail() && !force {
			return "", fmt.Errorf("the head owns encoder layers trained on the hidden states of encoder %s, and this encoder is %s, a %s variant of the same model; serve it with the encoder it was trained on (or pass --force)",
				encName(want.Name, want.Digest, false), shortDigest(digest), variant(quantizedFrom))
		}
		return fmt.Sprintf("the head was trained on %s encoder %s; this encoder %s is its %s variant (quantized from the same float32 weights), accepted",
			variant(want.QuantizedFrom), encName(want.Name, want.Digest, false), shortDigest(digest), variant(quantizedFrom)), nil
	}
	if force {
		return "", nil
	}
	if want.Digest == "" {
		return "", fmt.Errorf("the head records no encoder digest (trained on embeddings from elsewhere), so encoder %s cannot be checked; pass --force if it produced the training embeddings", shortDigest(digest))
	}
	return "", fmt.Errorf("the head was trained on encoder %s but this encoder is %s; use the training encoder, or pass --force to accept a dimension-compatible one",
		encName(want.Name, want.Digest, false), shortDigest(digest))
}

// variant names an encoder by whether it was rebuilt from a float32 one
// (int8 quantization, or a fused float32 graph).
func variant(quantizedFrom string) string {
	if quantizedFrom != "" {
		return "int8 (or fused)"
	}
	return "float32"
}

func encName(name, digest string, other bool) string {
	if other {
		return shortDigest(digest)
	}
	if name == "" {
		return shortDigest(digest)
	}
	return fmt.Sprintf("%s (%s)", name, shortDigest(digest))
}

func shortDigest(d string) string {
	if d == "" {
		return "(unknown digest)"
	}
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}
