package models_test

import (
	"fmt"
	"path/filepath"

	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/onnx"
)

// A tail is the top layers of an encoder with the pooling: here the last
// of tiny-bert's two layers, mean-pooled and L2-normalised, as a graph
// from the hidden state below layer 1 to the sentence embedding.
func ExampleBuildTail() {
	cfg, err := models.LoadConfig(filepath.Join("testdata", "configs", "tiny-bert.json"))
	if err != nil {
		panic(err)
	}
	weights := models.RandomWeights(cfg, 1)
	tail, err := models.ReadTail(cfg, weights, 1, "mean", true)
	if err != nil {
		panic(err)
	}
	m, err := models.BuildTail(tail, models.TailGraphOptions{})
	if err != nil {
		panic(err)
	}
	data, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	info, err := onnx.Inspect(data)
	if err != nil {
		panic(err)
	}
	fmt.Println("layers", tail.Spec.FirstLayer, "to", tail.Spec.TotalLayers-1, "parameters", tail.Params())
	fmt.Println(info.Inputs[0], "|", info.Inputs[1])
	fmt.Println(info.Outputs[0])
	// Output:
	// layers 1 to 1 parameters 8544
	// hidden_states: float32[batch sequence 32] | attention_mask: int64[batch sequence]
	// sentence_embedding: float32[batch 32]
}
