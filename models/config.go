package models

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Family groups the Hugging Face model types that share one graph layout.
type Family string

// Supported families.
const (
	// FamilyBERT is BERT (model_type "bert"): word + token-type + absolute
	// position embeddings, post-LayerNorm encoder layers, tanh pooler.
	FamilyBERT Family = "bert"
	// FamilyRoBERTa is RoBERTa, XLM-RoBERTa and CamemBERT: BERT's layers
	// with positions counted from padding_idx+1 over non-pad tokens and a
	// single token type.
	FamilyRoBERTa Family = "roberta"
	// FamilyDistilBERT is DistilBERT: no token types, no pooler, its own
	// parameter names (q_lin, sa_layer_norm, ffn.lin1, ...).
	FamilyDistilBERT Family = "distilbert"
)

var familyOf = map[string]Family{
	"bert":        FamilyBERT,
	"roberta":     FamilyRoBERTa,
	"xlm-roberta": FamilyRoBERTa,
	"camembert":   FamilyRoBERTa,
	"distilbert":  FamilyDistilBERT,
}

// Activations the builder can express exactly.
var supportedActs = map[string]bool{
	"gelu": true, "gelu_new": true, "gelu_pytorch_tanh": true, "relu": true,
}

// Config is the part of a Hugging Face config.json that shapes an encoder
// graph. DistilBERT's names (dim, n_layers, n_heads, hidden_dim,
// activation) are mapped onto the BERT ones.
type Config struct {
	ModelType        string   `json:"model_type"`
	Architectures    []string `json:"architectures,omitempty"`
	HiddenSize       int      `json:"hidden_size"`
	NumLayers        int      `json:"num_hidden_layers"`
	NumHeads         int      `json:"num_attention_heads"`
	IntermediateSize int      `json:"intermediate_size"`
	VocabSize        int      `json:"vocab_size"`
	MaxPositions     int      `json:"max_position_embeddings"`
	// TypeVocabSize is 0 for DistilBERT (no token types).
	TypeVocabSize int     `json:"type_vocab_size"`
	LayerNormEps  float64 `json:"layer_norm_eps"`
	HiddenAct     string  `json:"hidden_act"`
	PadTokenID    int     `json:"pad_token_id"`
	// InitializerRange is the std of RandomWeights' normal init.
	InitializerRange float64 `json:"initializer_range"`
}

// rawConfig has every key ParseConfig reads, as pointers so a missing key
// can be told from a zero.
type rawConfig struct {
	ModelType        *string  `json:"model_type"`
	Architectures    []string `json:"architectures"`
	HiddenSize       *int     `json:"hidden_size"`
	NumLayers        *int     `json:"num_hidden_layers"`
	NumHeads         *int     `json:"num_attention_heads"`
	IntermediateSize *int     `json:"intermediate_size"`
	VocabSize        *int     `json:"vocab_size"`
	MaxPositions     *int     `json:"max_position_embeddings"`
	TypeVocabSize    *int     `json:"type_vocab_size"`
	LayerNormEps     *float64 `json:"layer_norm_eps"`
	HiddenAct        *string  `json:"hidden_act"`
	PadTokenID       *int     `json:"pad_token_id"`
	InitializerRange *float64 `json:"initializer_range"`
	PositionType     *string  `json:"position_embedding_type"`
	// DistilBERT
	Dim        *int    `json:"dim"`
	NLayers    *int    `json:"n_layers"`
	NHeads     *int    `json:"n_heads"`
	HiddenDim  *int    `json:"hidden_dim"`
	Activation *string `json:"activation"`
}

// LoadConfig reads a Hugging Face config.json.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading model config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes and validates a Hugging Face config.json.
func ParseConfig(data []byte) (*Config, error) {
	var r rawConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("config is not valid JSON: %w", err)
	}
	if r.ModelType == nil {
		return nil, fmt.Errorf(`config has no "model_type"; supported: bert, roberta, xlm-roberta, camembert, distilbert`)
	}
	c := &Config{ModelType: strings.ToLower(*r.ModelType), Architectures: r.Architectures}
	fam, ok := familyOf[c.ModelType]
	if !ok {
		return nil, fmt.Errorf("model_type %q (architectures %v) is not supported; supported: bert, roberta, xlm-roberta, camembert, distilbert", *r.ModelType, r.Architectures)
	}
	if r.PositionType != nil && *r.PositionType != "absolute" {
		return nil, fmt.Errorf("position_embedding_type %q is not supported; only absolute position embeddings are", *r.PositionType)
	}
	var missing []string
	need := func(dst *int, src *int, key string) {
		if src == nil {
			missing = append(missing, key)
			return
		}
		*dst = *src
	}
	if fam == FamilyDistilBERT {
		need(&c.HiddenSize, r.Dim, "dim")
		need(&c.NumLayers, r.NLayers, "n_layers")
		need(&c.NumHeads, r.NHeads, "n_heads")
		need(&c.IntermediateSize, r.HiddenDim, "hidden_dim")
		c.HiddenAct = "gelu"
		if r.Activation != nil {
			c.HiddenAct = *r.Activation
		}
		c.LayerNormEps = 1e-12 // fixed in modeling_distilbert.py
		c.MaxPositions = 512
		if r.MaxPositions != nil {
			c.MaxPositions = *r.MaxPositions
		}
	} else {
		need(&c.HiddenSize, r.HiddenSize, "hidden_size")
		need(&c.NumLayers, r.NumLayers, "num_hidden_layers")
		need(&c.NumHeads, r.NumHeads, "num_attention_heads")
		need(&c.IntermediateSize, r.IntermediateSize, "intermediate_size")
		need(&c.MaxPositions, r.MaxPositions, "max_position_embeddings")
		c.TypeVocabSize = 2
		if r.TypeVocabSize != nil {
			c.TypeVocabSize = *r.TypeVocabSize
		}
		c.LayerNormEps = 1e-12
		if r.LayerNormEps != nil {
			c.LayerNormEps = *r.LayerNormEps
		}
		c.HiddenAct = "gelu"
		if r.HiddenAct != nil {
			c.HiddenAct = *r.HiddenAct
		}
	}
	need(&c.VocabSize, r.VocabSize, "vocab_size")
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s config is missing %s", c.ModelType, strings.Join(missing, ", "))
	}
	c.PadTokenID = 0
	if fam == FamilyRoBERTa {
		c.PadTokenID = 1
	}
	if r.PadTokenID != nil {
		c.PadTokenID = *r.PadTokenID
	}
	c.InitializerRange = 0.02
	if r.InitializerRange != nil {
		c.InitializerRange = *r.InitializerRange
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Family returns the graph layout for the config's model type.
func (c *Config) Family() Family { return familyOf[c.ModelType] }

// HasTokenTypes reports whether the graph takes a token_type_ids input:
// true for BERT-family models with more than one token type.
func (c *Config) HasTokenTypes() bool {
	return c.Family() == FamilyBERT && c.TypeVocabSize > 1
}

// HeadDim is the per-head width, HiddenSize / NumHeads.
func (c *Config) HeadDim() int { return c.HiddenSize / c.NumHeads }

// MaxLength is the longest token sequence the position table allows:
// max_position_embeddings, less padding_idx+1 for RoBERTa-style models
// whose positions start after the pad id.
func (c *Config) MaxLength() int {
	if c.Family() == FamilyRoBERTa {
		return c.MaxPositions - c.PadTokenID - 1
	}
	return c.MaxPositions
}

// Validate checks that the sizes are positive and consistent.
func (c *Config) Validate() error {
	if _, ok := familyOf[c.ModelType]; !ok {
		return fmt.Errorf("model_type %q is not supported; supported: bert, roberta, xlm-roberta, camembert, distilbert", c.ModelType)
	}
	for _, f := range []struct {
		v    int
		name string
	}{
		{c.HiddenSize, "hidden size"}, {c.NumLayers, "layer count"}, {c.NumHeads, "head count"},
		{c.IntermediateSize, "intermediate size"}, {c.VocabSize, "vocab size"}, {c.MaxPositions, "max_position_embeddings"},
	} {
		if f.v <= 0 {
			return fmt.Errorf("%s config: %s is %d, want > 0", c.ModelType, f.name, f.v)
		}
	}
	if c.HiddenSize%c.NumHeads != 0 {
		return fmt.Errorf("%s config: hidden size %d is not a multiple of the head count %d", c.ModelType, c.HiddenSize, c.NumHeads)
	}
	if !supportedActs[c.HiddenAct] {
		return fmt.Errorf("%s config: activation %q is not supported; supported: gelu, gelu_new, gelu_pytorch_tanh, relu", c.ModelType, c.HiddenAct)
	}
	if c.LayerNormEps <= 0 {
		return fmt.Errorf("%s config: layer_norm_eps %g, want > 0", c.ModelType, c.LayerNormEps)
	}
	if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
		return fmt.Errorf("%s config: pad_token_id %d outside the vocabulary of %d", c.ModelType, c.PadTokenID, c.VocabSize)
	}
	if c.Family() == FamilyRoBERTa && c.MaxLength() <= 0 {
		return fmt.Errorf("%s config: max_position_embeddings %d leaves no positions after padding_idx %d", c.ModelType, c.MaxPositions, c.PadTokenID)
	}
	if c.Family() == FamilyBERT && c.TypeVocabSize < 1 {
		return fmt.Errorf("%s config: type_vocab_size %d, want >= 1", c.ModelType, c.TypeVocabSize)
	}
	return nil
}

// Dim is the embedding width, HiddenSize.
func (c *Config) Dim() int { return c.HiddenSize }

// MarshalHF encodes the config as a Hugging Face config.json that
// ParseConfig (and transformers) read back to the same architecture.
func (c *Config) MarshalHF() ([]byte, error) {
	m := map[string]any{
		"model_type":        c.ModelType,
		"vocab_size":        c.VocabSize,
		"pad_token_id":      c.PadTokenID,
		"initializer_range": c.InitializerRange,
	}
	if len(c.Architectures) > 0 {
		m["architectures"] = c.Architectures
	}
	m["max_position_embeddings"] = c.MaxPositions
	if c.Family() == FamilyDistilBERT {
		m["dim"], m["n_layers"], m["n_heads"], m["hidden_dim"], m["activation"] =
			c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize, c.HiddenAct
	} else {
		m["hidden_size"], m["num_hidden_layers"], m["num_attention_heads"], m["intermediate_size"] =
			c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize
		m["type_vocab_size"], m["layer_norm_eps"], m["hidden_act"] = c.TypeVocabSize, c.LayerNormEps, c.HiddenAct
		m["position_embedding_type"] = "absolute"
	}
	return json.MarshalIndent(m, "", "  ")
}
