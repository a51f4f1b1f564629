package models

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/bertserve/bertserve/models/safetensors"
)

// Tail graph interface: the hidden state below the split and the padding
// mask in, the pooled sentence embedding out.
const (
	// OutputBottom is the bottom graph's output: the hidden state h_k
	// [batch, sequence, hidden] below the first tail layer k.
	OutputBottom = "hidden_states"
	// TailInputHidden and TailInputMask are the tail graph's inputs.
	TailInputHidden = "hidden_states"
	TailInputMask   = InputMask
	// TailOutput is the tail graph's pooled (and, when the spec says so,
	// L2-normalised) output [batch, hidden].
	TailOutput = "sentence_embedding"
)

// Tail layouts.
const (
	// LayoutPostLN is BERT's: x = LN1(x + Attn(x)); x = LN2(x + FFN(x)).
	LayoutPostLN = "post_ln"
	// LayoutPreLN is USE-lite's: x = x + Attn(LN1(x)); x = x + FFN(LN2(x)).
	LayoutPreLN = "pre_ln"
)

// TailSpec describes the top layers k..L-1 of an encoder and how their
// output is pooled: the "tail" a head with trainable layers owns. Its JSON
// names are those of the tail contract shared with package head.
type TailSpec struct {
	Layout       string  `json:"layout"`
	Hidden       int     `json:"hidden"`
	Heads        int     `json:"heads"`
	Intermediate int     `json:"intermediate"`
	LayerNormEps float64 `json:"layer_norm_eps"`
	// Activation is gelu (exact erf), gelu_new (tanh approximation) or
	// relu.
	Activation string `json:"activation"`
	// FirstLayer is k, the index of the first tail layer in the full
	// model; NumLayers is N = TotalLayers - k.
	FirstLayer  int `json:"first_layer"`
	NumLayers   int `json:"num_layers"`
	TotalLayers int `json:"total_layers"`
	// Pooling is cls or mean (over real tokens).
	Pooling string `json:"pooling"`
	// Pooler "tanh" applies tanh(pooler.dense(x)) to the pooled vector
	// (BERT's pooler on cls, USE-lite's tanh layer on the mean); "" none.
	Pooler string `json:"pooler,omitempty"`
	// Normalize L2-normalises the result: x / max(‖x‖, 1e-12).
	Normalize bool `json:"normalize"`
	// FinalLayerNorm adds final.LayerNorm after the last layer.
	FinalLayerNorm bool `json:"final_layer_norm,omitempty"`
}

// Tail is a tail's canonical weights: tensor names relative to the tail
// ("layer.{j}.attention.self.query.weight", j = 0..N-1, in the Linear
// layout [out, in]; "final.LayerNorm.weight"; "pooler.dense.weight"),
// the names a head file stores under "tail.".
type Tail struct {
	Spec    TailSpec
	Tensors map[string]safetensors.Tensor
}

// TailLayerTensor names, relative to "layer.{j}.", in BERT's spelling.
var TailLayerTensors = []string{
	"attention.self.query.weight", "attention.self.query.bias",
	"attention.self.key.weight", "attention.self.key.bias",
	"attention.self.value.weight", "attention.self.value.bias",
	"attention.output.dense.weight", "attention.output.dense.bias",
	"attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
	"intermediate.dense.weight", "intermediate.dense.bias",
	"output.dense.weight", "output.dense.bias",
	"output.LayerNorm.weight", "output.LayerNorm.bias",
}

// Tail-level tensor names.
const (
	TailFinalLNWeight = "final.LayerNorm.weight"
	TailFinalLNBias   = "final.LayerNorm.bias"
	TailPoolerWeight  = "pooler.dense.weight"
	TailPoolerBias    = "pooler.dense.bias"
)

// TailLayerName is the tail-relative name of tensor name of tail layer j.
func TailLayerName(j int, name string) string { return fmt.Sprintf("layer.%d.%s", j, name) }

// tailShape is the shape a canonical tensor must have.
func (s *TailSpec) tailShape(name string) []int {
	H, I := s.Hidden, s.Intermediate
	switch {
	case strings.HasPrefix(name, "intermediate.dense.weight"):
		return []int{I, H}
	case name == "intermediate.dense.bias":
		return []int{I}
	case name == "output.dense.weight":
		return []int{H, I}
	case strings.HasSuffix(name, ".weight") && !strings.Contains(name, "LayerNorm"):
		return []int{H, H}
	}
	return []int{H}
}

// TailNames lists every tensor a tail with this spec holds, in a fixed
// order (layers first, then the final LayerNorm and the pooler).
func (s *TailSpec) TailNames() []string {
	var out []string
	for j := 0; j < s.NumLayers; j++ {
		for _, n := range TailLayerTensors {
			out = append(out, TailLayerName(j, n))
		}
	}
	if s.FinalLayerNorm {
		out = append(out, TailFinalLNWeight, TailFinalLNBias)
	}
	if s.Pooler != "" {
		out = append(out, TailPoolerWeight, TailPoolerBias)
	}
	return out
}

// Shape returns the shape of the tail tensor called name.
func (s *TailSpec) Shape(name string) []int {
	if rest, ok := strings.CutPrefix(name, "layer."); ok {
		if _, after, ok := strings.Cut(rest, "."); ok {
			return s.tailShape(after)
		}
	}
	if name == TailPoolerWeight {
		return []int{s.Hidden, s.Hidden}
	}
	return []int{s.Hidden}
}

// Validate checks the spec's sizes and names.
func (s *TailSpec) Validate() error {
	var bad []string
	if s.Layout != LayoutPostLN && s.Layout != LayoutPreLN {
		bad = append(bad, fmt.Sprintf("layout %q is not %s or %s", s.Layout, LayoutPostLN, LayoutPreLN))
	}
	if s.Hidden <= 0 || s.Heads <= 0 || s.Intermediate <= 0 {
		bad = append(bad, fmt.Sprintf("hidden %d, heads %d, intermediate %d must be positive", s.Hidden, s.Heads, s.Intermediate))
	} else if s.Hidden%s.Heads != 0 {
		bad = append(bad, fmt.Sprintf("hidden %d is not a multiple of the %d heads", s.Hidden, s.Heads))
	}
	if !(s.LayerNormEps > 0) {
		bad = append(bad, fmt.Sprintf("layer_norm_eps %g must be positive", s.LayerNormEps))
	}
	switch s.Activation {
	case "gelu", "gelu_new", "relu":
	default:
		bad = append(bad, fmt.Sprintf("activation %q is not gelu, gelu_new or relu", s.Activation))
	}
	if s.NumLayers <= 0 || s.FirstLayer < 0 || s.FirstLayer+s.NumLayers != s.TotalLayers {
		bad = append(bad, fmt.Sprintf("layers %d..%d of %d: want first_layer + num_layers = total_layers with num_layers >= 1",
			s.FirstLayer, s.FirstLayer+s.NumLayers-1, s.TotalLayers))
	}
	if s.Pooling != "cls" && s.Pooling != "mean" {
		bad = append(bad, fmt.Sprintf("pooling %q is not cls or mean", s.Pooling))
	}
	if s.Pooler != "" && s.Pooler != "tanh" {
		bad = append(bad, fmt.Sprintf("pooler %q is not tanh (or empty)", s.Pooler))
	}
	if len(bad) > 0 {
		return fmt.Errorf("invalid tail spec: %s", strings.Join(bad, "; "))
	}
	return nil
}

// Validate checks the spec and that the tail holds exactly the tensors it
// implies, each with the right shape and number of values.
func (t *Tail) Validate() error {
	if err := t.Spec.Validate(); err != nil {
		return err
	}
	want := t.Spec.TailNames()
	for _, name := range want {
		ts, ok := t.Tensors[name]
		if !ok {
			return fmt.Errorf("tail is missing tensor %q", name)
		}
		shape := t.Spec.Shape(name)
		if !slices.Equal(ts.Shape, shape) {
			return fmt.Errorf("tail tensor %q has shape %v, the spec implies %v", name, ts.Shape, shape)
		}
		if len(ts.Data) != ts.Len() {
			return fmt.Errorf("tail tensor %q: shape %v but %d values", name, ts.Shape, len(ts.Data))
		}
	}
	if len(t.Tensors) != len(want) {
		var extra []string
		for name := range t.Tensors {
			if !slices.Contains(want, name) {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		return fmt.Errorf("tail holds tensors its spec does not use: %q", extra)
	}
	return nil
}

// Params is the number of values in the tail's tensors.
func (t *Tail) Params() int {
	n := 0
	for _, ts := range t.Tensors {
		n += ts.Len()
	}
	return n
}

// tailActivation maps a config.json hidden_act onto the spec's names.
func tailActivation(act string) (string, error) {
	switch act {
	case "gelu", "relu":
		return act, nil
	case "gelu_new", "gelu_pytorch_tanh":
		return "gelu_new", nil
	}
	return "", fmt.Errorf("activation %q has no tail equivalent; supported: gelu, gelu_new, gelu_pytorch_tanh, relu", act)
}

// ReadTail returns the canonical tail of layers k..L-1 of a BERT-family
// encoder from its Hugging Face weights (with or without a bert./roberta./
// distilbert. prefix; DistilBERT's names are mapped onto BERT's). pooling
// is the encoder's: cls, mean, or pooler (BERT's tanh pooler on the first
// token, which needs pooler.dense); normalize L2-normalises the result.
func ReadTail(cfg *Config, weights Weights, k int, pooling string, normalize bool) (*Tail, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	L := cfg.NumLayers
	if k < 0 || k >= L {
		return nil, fmt.Errorf("the %s encoder has %d layers: the first trainable layer must be 0..%d, got %d (train 1..%d layers)", cfg.ModelType, L, L-1, k, L)
	}
	ws, err := newWeightSet(weights)
	if err != nil {
		return nil, err
	}
	act, err := tailActivation(cfg.HiddenAct)
	if err != nil {
		return nil, err
	}
	spec := TailSpec{
		Layout: LayoutPostLN, Hidden: cfg.HiddenSize, Heads: cfg.NumHeads, Intermediate: cfg.IntermediateSize,
		LayerNormEps: cfg.LayerNormEps, Activation: act,
		FirstLayer: k, NumLayers: L - k, TotalLayers: L, Normalize: normalize,
	}
	switch pooling {
	case "cls", "mean":
		spec.Pooling = pooling
	case "pooler":
		if cfg.Family() == FamilyDistilBERT || !ws.has(poolerName+".weight") {
			return nil, fmt.Errorf("pooling \"pooler\" needs pooler.dense weights, which this %s checkpoint does not have; use --pooling cls or mean", cfg.ModelType)
		}
		spec.Pooling, spec.Pooler = "cls", "tanh"
	default:
		return nil, fmt.Errorf("a tail pools with cls, mean or pooler, not %q: train with --pooling cls or --pooling mean", pooling)
	}
	t := &Tail{Spec: spec, Tensors: map[string]safetensors.Tensor{}}
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	put := func(name, src string, shape ...int) error {
		d, err := ws.get(src, shape...)
		if err != nil {
			return err
		}
		t.Tensors[name] = safetensors.Tensor{Shape: slices.Clone(shape), Data: slices.Clone(d)}
		return nil
	}
	for j := 0; j < spec.NumLayers; j++ {
		n := layerParamNames(cfg.Family(), k+j)
		for _, m := range []struct {
			canon, src string
			out, in    int
		}{
			{"attention.self.query", n.q, H, H}, {"attention.self.key", n.k, H, H}, {"attention.self.value", n.v, H, H},
			{"attention.output.dense", n.o, H, H}, {"intermediate.dense", n.ff1, I, H}, {"output.dense", n.ff2, H, I},
		} {
			if err := put(TailLayerName(j, m.canon+".weight"), m.src+".weight", m.out, m.in); err != nil {
				return nil, err
			}
			if err := put(TailLayerName(j, m.canon+".bias"), m.src+".bias", m.out); err != nil {
				return nil, err
			}
		}
		for _, m := range []struct{ canon, src string }{{"attention.output.LayerNorm", n.ln1}, {"output.LayerNorm", n.ln2}} {
			for _, s := range []string{".weight", ".bias"} {
				if err := put(TailLayerName(j, m.canon+s), m.src+s, H); err != nil {
					return nil, err
				}
			}
		}
	}
	if spec.Pooler != "" {
		if err := put(TailPoolerWeight, poolerName+".weight", H, H); err != nil {
			return nil, err
		}
		if err := put(TailPoolerBias, poolerName+".bias", H); err != nil {
			return nil, err
		}
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}
