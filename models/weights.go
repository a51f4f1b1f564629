package models

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/bertserve/bertserve/models/safetensors"
)

// Weights maps Hugging Face parameter names to tensors, as read from
// model.safetensors.
type Weights = map[string]safetensors.Tensor

// The parameter names of one encoder layer, without ".weight"/".bias".
type layerNames struct {
	q, k, v, o string // attention projections
	ln1        string // LayerNorm after attention
	ff1, ff2   string // feed-forward in and out
	ln2        string // LayerNorm after the feed-forward block
}

func layerParamNames(fam Family, i int) layerNames {
	if fam == FamilyDistilBERT {
		p := fmt.Sprintf("transformer.layer.%d.", i)
		return layerNames{
			q: p + "attention.q_lin", k: p + "attention.k_lin", v: p + "attention.v_lin", o: p + "attention.out_lin",
			ln1: p + "sa_layer_norm", ff1: p + "ffn.lin1", ff2: p + "ffn.lin2", ln2: p + "output_layer_norm",
		}
	}
	p := fmt.Sprintf("encoder.layer.%d.", i)
	return layerNames{
		q: p + "attention.self.query", k: p + "attention.self.key", v: p + "attention.self.value",
		o: p + "attention.output.dense", ln1: p + "attention.output.LayerNorm",
		ff1: p + "intermediate.dense", ff2: p + "output.dense", ln2: p + "output.LayerNorm",
	}
}

// Embedding parameter names (".weight" included for the tables).
const (
	wordEmbName = "embeddings.word_embeddings.weight"
	posEmbName  = "embeddings.position_embeddings.weight"
	typeEmbName = "embeddings.token_type_embeddings.weight"
	embLNName   = "embeddings.LayerNorm"
	poolerName  = "pooler.dense"
)

type paramKind int

const (
	kindNormal paramKind = iota
	kindZeros
	kindOnes
)

// paramSpec is one parameter a config implies: its unprefixed Hugging
// Face name, its shape as stored (Linear weights are [out, in]) and how
// BERT initializes it.
type paramSpec struct {
	Name  string
	Shape []int
	Kind  paramKind
}

// paramSpecs lists every parameter of the encoder described by cfg, in
// the order the graph uses them. The pooler is included when pooler is
// true (never for DistilBERT).
func paramSpecs(cfg *Config, pooler bool) []paramSpec {
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	var s []paramSpec
	add := func(name string, kind paramKind, shape ...int) {
		s = append(s, paramSpec{Name: name, Shape: shape, Kind: kind})
	}
	linear := func(p string, in, out int) {
		add(p+".weight", kindNormal, out, in)
		add(p+".bias", kindZeros, out)
	}
	norm := func(p string) {
		add(p+".weight", kindOnes, H)
		add(p+".bias", kindZeros, H)
	}
	fam := cfg.Family()
	add(wordEmbName, kindNormal, cfg.VocabSize, H)
	add(posEmbName, kindNormal, cfg.MaxPositions, H)
	if fam != FamilyDistilBERT {
		add(typeEmbName, kindNormal, cfg.TypeVocabSize, H)
	}
	norm(embLNName)
	for i := 0; i < cfg.NumLayers; i++ {
		n := layerParamNames(fam, i)
		linear(n.q, H, H)
		linear(n.k, H, H)
		linear(n.v, H, H)
		linear(n.o, H, H)
		norm(n.ln1)
		linear(n.ff1, H, I)
		linear(n.ff2, I, H)
		norm(n.ln2)
	}
	if pooler && fam != FamilyDistilBERT {
		linear(poolerName, H, H)
	}
	return s
}

// weightSet looks tensors up by unprefixed name in a checkpoint whose
// names may carry a model prefix ("bert.", "roberta.", "distilbert.").
type weightSet struct {
	t      Weights
	prefix string
}

// newWeightSet finds the checkpoint's name prefix from its word
// embedding table.
func newWeightSet(t Weights) (*weightSet, error) {
	var prefixes []string
	for name := range t {
		if p, ok := strings.CutSuffix(name, wordEmbName); ok {
			prefixes = append(prefixes, p)
		}
	}
	if len(prefixes) == 0 {
		return nil, fmt.Errorf("checkpoint has no %q tensor (with or without a bert./roberta./distilbert. prefix); it holds %s — is it a BERT-family encoder?", wordEmbName, sampleNames(t))
	}
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i]) < len(prefixes[j]) })
	return &weightSet{t: t, prefix: prefixes[0]}, nil
}

// sampleNames describes a checkpoint's tensor names for error messages.
func sampleNames(t Weights) string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 4 {
		return fmt.Sprintf("%d tensors such as %q", len(names), names[:4])
	}
	return fmt.Sprintf("%d tensors %q", len(names), names)
}

// aliases returns name and the older spellings it may be stored under
// (TensorFlow-converted checkpoints use LayerNorm.gamma/beta).
func aliases(name string) []string {
	out := []string{name}
	if p, ok := strings.CutSuffix(name, "LayerNorm.weight"); ok {
		out = append(out, p+"LayerNorm.gamma")
	}
	if p, ok := strings.CutSuffix(name, "LayerNorm.bias"); ok {
		out = append(out, p+"LayerNorm.beta")
	}
	return out
}

func (w *weightSet) has(name string) bool {
	for _, a := range aliases(name) {
		if _, ok := w.t[w.prefix+a]; ok {
			return true
		}
	}
	return false
}

// get returns the data of the tensor called name, checking its shape.
func (w *weightSet) get(name string, shape ...int) ([]float32, error) {
	for _, a := range aliases(name) {
		t, ok := w.t[w.prefix+a]
		if !ok {
			continue
		}
		if !slices.Equal(t.Shape, shape) {
			return nil, fmt.Errorf("tensor %q has shape %v, but the config implies %v; does config.json belong to these weights?", w.prefix+a, t.Shape, shape)
		}
		if len(t.Data) != t.Len() {
			return nil, fmt.Errorf("tensor %q: shape %v but %d values", w.prefix+a, t.Shape, len(t.Data))
		}
		return t.Data, nil
	}
	return nil, fmt.Errorf("checkpoint has no tensor %q (it holds %s); is the model_type in config.json right for these weights?", w.prefix+name, sampleNames(w.t))
}

// linear returns a Linear layer's weight transposed to [in, out], the
// layout MatMul wants, and its bias.
func (w *weightSet) linear(name string, in, out int) (wt, b []float32, err error) {
	W, err := w.get(name+".weight", out, in)
	if err != nil {
		return nil, nil, err
	}
	b, err = w.get(name+".bias", out)
	if err != nil {
		return nil, nil, err
	}
	return transpose(W, out, in), b, nil
}

// transpose returns the [cols, rows] transpose of a row-major [rows, cols]
// matrix.
func transpose(m []float32, rows, cols int) []float32 {
	t := make([]float32, len(m))
	const blk = 32
	for r0 := 0; r0 < rows; r0 += blk {
		for c0 := 0; c0 < cols; c0 += blk {
			for r := r0; r < min(r0+blk, rows); r++ {
				for c := c0; c < min(c0+blk, cols); c++ {
					t[c*rows+r] = m[r*cols+c]
				}
			}
		}
	}
	return t
}
