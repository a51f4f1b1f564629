package head

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Tail layouts, activations and poolings (the names of config.json and
// of the contract between head/ and models/).
const (
	LayoutPostLN = "post_ln" // BERT, RoBERTa, XLM-R, DistilBERT: x = LN(x + f(x))
	LayoutPreLN  = "pre_ln"  // USE-lite: x = x + f(LN(x))

	ActGELU     = "gelu"     // exact erf GELU, BERT's default
	ActGELUTanh = "gelu_new" // tanh approximation (also "gelu_pytorch_tanh")
	ActReLU     = "relu"

	PoolCLS  = "cls"
	PoolMean = "mean"
)

// LayerTensors are the tensors of one transformer layer in canonical
// (BERT) names relative to the layer, weights in PyTorch nn.Linear
// layout [out, in], row-major. A tail's tensors are these for each of its
// layers, plus FinalTensors when the spec has a final LayerNorm.
var LayerTensors = []string{
	"attention.self.query.weight", "attention.self.query.bias",
	"attention.self.key.weight", "attention.self.key.bias",
	"attention.self.value.weight", "attention.self.value.bias",
	"attention.output.dense.weight", "attention.output.dense.bias",
	"attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
	"intermediate.dense.weight", "intermediate.dense.bias",
	"output.dense.weight", "output.dense.bias",
	"output.LayerNorm.weight", "output.LayerNorm.bias",
}

// FinalTensors are the optional LayerNorm after the last layer (pre-LN
// models), relative to the tail.
var FinalTensors = []string{"final.LayerNorm.weight", "final.LayerNorm.bias"}

// TailSpec describes the encoder layers a head owns: layers
// FirstLayer..TotalLayers-1 of the encoder, then pooling. head.json
// records it; models/ builds tail.onnx from it.
type TailSpec struct {
	Layout       string  `json:"layout"`
	Hidden       int     `json:"hidden"`
	Heads        int     `json:"heads"`
	Intermediate int     `json:"intermediate"`
	LayerNormEps float64 `json:"layer_norm_eps"`
	Activation   string  `json:"activation"`
	FirstLayer   int     `json:"first_layer"`
	NumLayers    int     `json:"num_layers"`
	TotalLayers  int     `json:"total_layers"`
	Pooling      string  `json:"pooling"`
	// Normalize L2-normalises the pooled vector.
	Normalize bool `json:"normalize"`
	// FinalLayerNorm adds FinalTensors after the last layer.
	FinalLayerNorm bool `json:"final_layer_norm,omitempty"`
	// HiddenDropout and AttentionDropout are config.json's
	// hidden_dropout_prob and attention_probs_dropout_prob, applied while
	// training as BERT applies them (0.1 when the model does not say).
	HiddenDropout    float64 `json:"hidden_dropout_prob"`
	AttentionDropout float64 `json:"attention_probs_dropout_prob"`
}

// HeadDim returns the width of one attention head.
func (s TailSpec) HeadDim() int { return s.Hidden / s.Heads }

// Validate checks the spec's fields and that they agree.
func (s TailSpec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch s.Layout {
	case LayoutPostLN, LayoutPreLN:
	default:
		bad("layout %q: want %s or %s", s.Layout, LayoutPostLN, LayoutPreLN)
	}
	if s.Hidden < 1 || s.Hidden > 1<<15 {
		bad("hidden %d must be in [1, 32768]", s.Hidden)
	}
	if s.Heads < 1 || (s.Hidden > 0 && s.Hidden%s.Heads != 0) {
		bad("heads %d must be >= 1 and divide hidden %d", s.Heads, s.Hidden)
	}
	if s.Intermediate < 1 || s.Intermediate > 1<<17 {
		bad("intermediate %d must be in [1, 131072]", s.Intermediate)
	}
	if !(s.LayerNormEps > 0 && s.LayerNormEps < 1) {
		bad("layer_norm_eps %v must be in (0, 1)", s.LayerNormEps)
	}
	if _, err := parseActivation(s.Activation); err != nil {
		bad("activation: %v", err)
	}
	if s.NumLayers < 1 || s.TotalLayers < s.NumLayers || s.FirstLayer != s.TotalLayers-s.NumLayers {
		bad("layers: first_layer %d, num_layers %d, total_layers %d: a tail is the top num_layers >= 1 layers, first_layer = total_layers - num_layers",
			s.FirstLayer, s.NumLayers, s.TotalLayers)
	}
	switch s.Pooling {
	case PoolCLS, PoolMean:
	default:
		bad("pooling %q: a tail pools by %s or %s", s.Pooling, PoolCLS, PoolMean)
	}
	if !(s.HiddenDropout >= 0 && s.HiddenDropout < 1) {
		bad("hidden_dropout_prob %v must be in [0, 1)", s.HiddenDropout)
	}
	if !(s.AttentionDropout >= 0 && s.AttentionDropout < 1) {
		bad("attention_probs_dropout_prob %v must be in [0, 1)", s.AttentionDropout)
	}
	return errors.Join(errs...)
}

// parseActivation maps config.json's hidden_act to one of ours.
func parseActivation(s string) (string, error) {
	switch s {
	case ActGELU, ActReLU:
		return s, nil
	case ActGELUTanh, "gelu_pytorch_tanh", "gelu_fast":
		return ActGELUTanh, nil
	}
	return "", fmt.Errorf("%q: want gelu (exact), gelu_new / gelu_pytorch_tanh (tanh approximation) or relu", s)
}

// TensorShape returns the shape of a per-layer tensor (a LayerTensors
// name) or of a FinalTensors name.
func (s TailSpec) TensorShape(name string) ([]int, bool) {
	H, I := s.Hidden, s.Intermediate
	switch name {
	case "attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight", "attention.output.dense.weight":
		return []int{H, H}, true
	case "intermediate.dense.weight":
		return []int{I, H}, true
	case "output.dense.weight":
		return []int{H, I}, true
	case "intermediate.dense.bias":
		return []int{I}, true
	}
	if slices.Contains(LayerTensors, name) || slices.Contains(FinalTensors, name) {
		return []int{H}, true
	}
	return nil, false
}

// TailWeights are a tail's tensors in canonical names: Layers[j] holds
// layer FirstLayer+j's LayerTensors, Final the FinalTensors (nil without
// a final LayerNorm). For a trained head they are the merged weights
// (LoRA folded in: W' = W + (α/r)·B·A); as a training input they are the
// encoder's own weights of the top layers.
type TailWeights struct {
	Spec   TailSpec
	Layers []map[string][]float32
	Final  map[string][]float32
}

// Validate checks the spec and that every tensor is present, of the
// spec's size and finite.
func (w *TailWeights) Validate() error {
	if w == nil {
		return errors.New("no tail weights")
	}
	if err := w.Spec.Validate(); err != nil {
		return fmt.Errorf("tail spec: %w", err)
	}
	if len(w.Layers) != w.Spec.NumLayers {
		return fmt.Errorf("tail has %d layers of weights, its spec says %d", len(w.Layers), w.Spec.NumLayers)
	}
	check := func(where string, m map[string][]float32, names []string) error {
		for _, name := range names {
			shape, _ := w.Spec.TensorShape(name)
			n := 1
			for _, d := range shape {
				n *= d
			}
			data, ok := m[name]
			if !ok {
				return fmt.Errorf("%s lacks tensor %q", where, name)
			}
			if len(data) != n {
				return fmt.Errorf("%s tensor %q has %d values, shape %v needs %d", where, name, len(data), shape, n)
			}
			for i, v := range data {
				if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
					return fmt.Errorf("%s tensor %q holds a non-finite value at %d", where, name, i)
				}
			}
		}
		for name := range m {
			if !slices.Contains(names, name) {
				return fmt.Errorf("%s holds unknown tensor %q (want the names of head.LayerTensors)", where, name)
			}
		}
		return nil
	}
	for j, l := range w.Layers {
		if err := check(fmt.Sprintf("tail layer %d (encoder layer %d)", j, w.Spec.FirstLayer+j), l, LayerTensors); err != nil {
			return err
		}
	}
	if w.Spec.FinalLayerNorm {
		if err := check("tail final LayerNorm", w.Final, FinalTensors); err != nil {
			return err
		}
	} else if len(w.Final) != 0 {
		return errors.New("tail has final LayerNorm tensors but its spec has final_layer_norm false")
	}
	return nil
}

// Clone returns a deep copy.
func (w *TailWeights) Clone() *TailWeights {
	c := &TailWeights{Spec: w.Spec, Layers: make([]map[string][]float32, len(w.Layers))}
	for j, l := range w.Layers {
		c.Layers[j] = make(map[string][]float32, len(l))
		for k, v := range l {
			c.Layers[j][k] = slices.Clone(v)
		}
	}
	if w.Final != nil {
		c.Final = map[string][]float32{}
		for k, v := range w.Final {
			c.Final[k] = slices.Clone(v)
		}
	}
	return c
}

// TailInfo is what head.json records about a head's tail: the spec, the
// digest of the encoder whose bottom feeds it, and the digest of
// tail.onnx (filled by the caller that builds it).
type TailInfo struct {
	TailSpec
	BaseEncoderDigest string `json:"base_encoder_digest,omitempty"`
	TailDigest        string `json:"tail_digest,omitempty"`
}

// Sequences are per-text token-level hidden states below the split:
// only the real tokens (attention mask 1, special tokens included), so
// attention over them is exact without padding.
type Sequences interface {
	// Len returns the number of texts.
	Len() int
	// Hidden returns H.
	Hidden() int
	// Row returns text i's hidden states, T×H row-major float32, reusing
	// dst when it is large enough. It is safe for concurrent use.
	Row(i int, dst []float32) (data []float32, T int)
}

// SeqDataset is a labelled set of hidden-state sequences, the input of
// training inside the encoder (Y indexes Labels; Texts, when set, are
// the texts for error analysis).
type SeqDataset struct {
	X      Sequences
	Y      []int
	Labels []string
	Texts  []string
}

// Len returns the number of texts.
func (d *SeqDataset) Len() int { return len(d.Y) }

// Validate checks counts and label indexes (the hidden states are
// checked as they are read).
func (d *SeqDataset) Validate() error {
	if d == nil || d.X == nil || d.X.Len() == 0 {
		return errors.New("the dataset is empty")
	}
	if d.X.Len() != len(d.Y) {
		return fmt.Errorf("%d sequences but %d labels: the counts must match", d.X.Len(), len(d.Y))
	}
	if d.Texts != nil && len(d.Texts) != len(d.Y) {
		return fmt.Errorf("%d sequences but %d texts", len(d.Y), len(d.Texts))
	}
	if len(d.Labels) == 0 {
		return errors.New("the dataset has no label names")
	}
	for i, c := range d.Y {
		if c < 0 || c >= len(d.Labels) {
			return fmt.Errorf("row %d: class %d outside the %d labels", i+1, c, len(d.Labels))
		}
	}
	return nil
}

// ClassCounts returns the number of rows of each class.
func (d *SeqDataset) ClassCounts() []int {
	n := make([]int, len(d.Labels))
	for _, c := range d.Y {
		n[c]++
	}
	return n
}

// TailSource is the seam through which training inside the encoder gets
// what lies below and inside the split from the encoder; cmd/ fills it
// (head/ never runs ONNX Runtime).
type TailSource struct {
	// Base returns the encoder's own weights and spec for its top n
	// layers (pooling and normalisation as the encoder pools).
	Base func(n int) (*TailWeights, error)
	// Hidden returns the hidden states of texts below encoder layer k
	// (the input of layer k), real tokens only, in the order of texts.
	Hidden func(ctx context.Context, texts []string, k int) (Sequences, error)
}

// Tuning modes and unfreezing schedules.
const (
	TuneNone = "none"
	TuneLoRA = "lora"
	TuneTop  = "top"

	UnfreezeAll     = "all"
	UnfreezeGradual = "gradual"
)

// LoRA targets: the projections of a layer by name.
const (
	TargetQuery        = "query"
	TargetKey          = "key"
	TargetValue        = "value"
	TargetAttnOutput   = "attention.output"
	TargetIntermediate = "intermediate"
	TargetOutput       = "output"
)

// loraTargets maps every accepted target name to the canonical one and
// the weight it updates.
var loraTargets = map[string]string{
	"query": TargetQuery, "q": TargetQuery, "attention.self.query": TargetQuery, "q_lin": TargetQuery,
	"key": TargetKey, "k": TargetKey, "attention.self.key": TargetKey, "k_lin": TargetKey,
	"value": TargetValue, "v": TargetValue, "attention.self.value": TargetValue, "v_lin": TargetValue,
	"attention.output": TargetAttnOutput, "attention_output": TargetAttnOutput, "attention.output.dense": TargetAttnOutput, "out_lin": TargetAttnOutput,
	"intermediate": TargetIntermediate, "intermediate.dense": TargetIntermediate, "lin1": TargetIntermediate,
	"output": TargetOutput, "output.dense": TargetOutput, "lin2": TargetOutput,
}

// targetWeight is the canonical weight a target updates.
var targetWeight = map[string]string{
	TargetQuery:        "attention.self.query.weight",
	TargetKey:          "attention.self.key.weight",
	TargetValue:        "attention.self.value.weight",
	TargetAttnOutput:   "attention.output.dense.weight",
	TargetIntermediate: "intermediate.dense.weight",
	TargetOutput:       "output.dense.weight",
}

// LoRATargetNames lists the canonical target names.
var LoRATargetNames = []string{TargetQuery, TargetKey, TargetValue, TargetAttnOutput, TargetIntermediate, TargetOutput}

// CanonicalTargets resolves target names (PEFT's BERT names and
// DistilBERT's are accepted; "all" is every projection, PEFT's
// "all-linear") to canonical ones, in LoRATargetNames order, without
// duplicates.
func CanonicalTargets(names []string) ([]string, error) {
	seen := map[string]bool{}
	for _, n := range names {
		if k := strings.ToLower(strings.TrimSpace(n)); k == "all" || k == "all-linear" {
			for _, c := range LoRATargetNames {
				seen[c] = true
			}
			continue
		}
		c, ok := loraTargets[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, fmt.Errorf("unknown lora target %q: want any of %s, or all", n, strings.Join(LoRATargetNames, ", "))
		}
		seen[c] = true
	}
	var out []string
	for _, c := range LoRATargetNames {
		if seen[c] {
			out = append(out, c)
		}
	}
	return out, nil
}
