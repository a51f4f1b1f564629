package head

import (
	"fmt"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// Adapter kinds.
const (
	AdapterNone = "none"
	AdapterLoRA = "lora"
)

// AdapterConfig selects an adapter and its size.
type AdapterConfig struct {
	// Kind is "none" (or empty) or "lora".
	Kind string `json:"kind"`
	// Rank r of the low-rank update.
	Rank int `json:"rank,omitempty"`
	// Alpha scales the update by alpha/r.
	Alpha float64 `json:"alpha,omitempty"`
}

// Enabled reports whether an adapter is configured.
func (a AdapterConfig) Enabled() bool { return a.Kind != "" && a.Kind != AdapterNone }

// Validate checks the adapter settings.
func (a AdapterConfig) Validate() error {
	if !a.Enabled() {
		return nil
	}
	ad, ok := adapters[a.Kind]
	if !ok {
		return fmt.Errorf("kind %q: want none or lora", a.Kind)
	}
	return ad.Validate(a)
}

// Placement says where an adapter acts.
type Placement string

// Placements. Embedding adapters transform the cached embedding in front
// of the head, so training never runs the encoder. Encoder adapters
// (low-rank updates inside the encoder's top layers) are the planned
// extension: they will take the hidden states cached below those layers
// as their input, and implement the same Module contract.
const (
	PlaceEmbedding Placement = "embedding"
	PlaceEncoder   Placement = "encoder"
)

// Adapter is a kind of trainable adapter. An implementation validates
// its settings, counts its parameters, and builds the module that
// training and inference run, in float32 (training) and float64 (the
// gradient checks). Modules follow nn.Module: Forward caches, Backward
// adds parameter gradients, Infer is read-only and concurrency-safe;
// parameter names become the tensor names in head.safetensors.
type Adapter interface {
	Kind() string
	Placement() Placement
	Validate(cfg AdapterConfig) error
	NumParams(cfg AdapterConfig, dim int) int
	build32(cfg AdapterConfig, dim int, rng *nn.RNG) nn.Module[float32]
	build64(cfg AdapterConfig, dim int, rng *nn.RNG) nn.Module[float64]
}

var adapters = map[string]Adapter{AdapterLoRA: loraAdapter{}}

// loraAdapter is h' = h + (alpha/r)·B·A·h on the embedding.
type loraAdapter struct{}

func (loraAdapter) Kind() string         { return AdapterLoRA }
func (loraAdapter) Placement() Placement { return PlaceEmbedding }

func (loraAdapter) Validate(c AdapterConfig) error {
	if c.Rank < 1 || c.Rank > 4096 {
		return fmt.Errorf("lora rank %d must be in [1, 4096]", c.Rank)
	}
	if !(c.Alpha > 0) {
		return fmt.Errorf("lora alpha %v must be > 0", c.Alpha)
	}
	return nil
}

func (loraAdapter) NumParams(c AdapterConfig, dim int) int { return 2 * c.Rank * dim }

func (loraAdapter) build32(c AdapterConfig, dim int, rng *nn.RNG) nn.Module[float32] {
	return nn.NewLoRA[float32]("adapter", dim, c.Rank, c.Alpha, rng)
}

func (loraAdapter) build64(c AdapterConfig, dim int, rng *nn.RNG) nn.Module[float64] {
	return nn.NewLoRA[float64]("adapter", dim, c.Rank, c.Alpha, rng)
}
