package models_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bertserve/bertserve/models"
)

// DistilBERT's config keys are mapped onto the BERT names.
func ExampleParseConfig() {
	cfg, err := models.ParseConfig([]byte(`{
		"model_type": "distilbert", "dim": 768, "n_layers": 6, "n_heads": 12,
		"hidden_dim": 3072, "vocab_size": 30522, "max_position_embeddings": 512
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Family(), cfg.HiddenSize, cfg.NumLayers, cfg.HeadDim(), cfg.IntermediateSize, cfg.HiddenAct, cfg.HasTokenTypes())
	// Output: distilbert 768 6 64 3072 gelu false
}

// Build a RoBERTa encoder graph from seeded random weights. RoBERTa has a
// single token type, so the graph takes no token_type_ids.
func ExampleBuild() {
	cfg, err := models.LoadConfig(filepath.Join("testdata", "configs", "tiny-roberta.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	built, err := models.Build(cfg, models.RandomWeights(cfg, 1))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("inputs:", built.Inputs)
	fmt.Println("outputs:", built.Outputs)
	// Output:
	// inputs: [input_ids attention_mask]
	// outputs: [last_hidden_state pooler_output]
}

// A model directory from random weights, as `bertserve build-model
// --random` writes it.
func ExampleWriteModelDir() {
	cfg, err := models.LoadConfig(filepath.Join("testdata", "configs", "tiny-bert.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	tmp, err := os.MkdirTemp("", "example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)
	tok := filepath.Join(tmp, "tokenizer.json")
	if err := os.WriteFile(tok, []byte(`{}`), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	dir := filepath.Join(tmp, "tiny")
	m, err := models.WriteModelDir(dir, models.DirSpec{
		Config: cfg, Weights: models.RandomWeights(cfg, 1), Tokenizer: tok,
		Source: "random:seed=1", Pooling: "cls",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Name, m.Architecture, m.Dim, m.Pooling, m.MaxLength, m.Tokenizer)
	fmt.Println(m.Verify(dir))
	// Output:
	// tiny bert 32 cls 512 tokenizer.json
	// <nil>
}

// Recover the architecture and weights of a BERT encoder from a
// torch.onnx export (a tiny random BertModel, scripts/onnx_fixtures.py).
func ExampleRecoverONNX() {
	data, err := os.ReadFile("testdata/onnx/tiny-bert-opset11.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := models.RecoverONNX(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := r.Config
	fmt.Println(c.ModelType, c.NumLayers, "layers, hidden", c.HiddenSize, "heads", c.NumHeads, "intermediate", c.IntermediateSize, c.HiddenAct)
	w := r.Weights["encoder.layer.0.attention.self.query.weight"]
	fmt.Println("query weight", w.Shape, "tensors", len(r.Weights))
	// Output:
	// bert 2 layers, hidden 16 heads 4 intermediate 32 gelu
	// query weight [16 16] tensors 39
}
