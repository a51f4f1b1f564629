package hub

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models/onnx"
)

// tinyVocab is a WordPiece vocabulary for the fixture repos.
var tinyVocab = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "great", "bad", "很", "好", "##s", "."}

func vocabTxt() []byte { return []byte(strings.Join(tinyVocab, "\n") + "\n") }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const tinyHidden = 16

// tinyEmbeddings is the fixture ONNX model's embedding table, seeded so
// tests can recompute what the model must output.
func tinyEmbeddings() []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	e := make([]float32, len(tinyVocab)*tinyHidden)
	for i := range e {
		e[i] = float32(rng.NormFloat64())
	}
	return e
}

// tinyONNX is an "encoder" in the layout Optimum exports: inputs
// input_ids and attention_mask [batch, sequence], output
// last_hidden_state [batch, sequence, hidden] = embedding(ids) * mask.
func tinyONNX(t testing.TB) []byte {
	t.Helper()
	g := onnx.NewGraph("tiny_encoder")
	ids := g.Input("input_ids", onnx.Int64, onnx.Sym("batch"), onnx.Sym("sequence"))
	mask := g.Input("attention_mask", onnx.Int64, onnx.Sym("batch"), onnx.Sym("sequence"))
	emb := g.InitFloat("embeddings.word_embeddings.weight", []int64{int64(len(tinyVocab)), tinyHidden}, tinyEmbeddings())
	h := g.Op("Gather", emb, ids)
	m := g.OpWith("Cast", []string{g.Op("Unsqueeze", mask, g.Ints(2))}, onnx.AttrInt("to", int64(onnx.Float)))
	out := g.Rename(g.Op("Mul", h, m), "last_hidden_state")
	g.Output(out, onnx.Float, onnx.Sym("batch"), onnx.Sym("sequence"), onnx.Dim(tinyHidden))
	b, err := onnx.NewModel(g).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tinyConfig(t testing.TB) []byte {
	return mustJSON(t, map[string]any{
		"architectures":           []string{"BertModel"},
		"model_type":              "bert",
		"hidden_size":             tinyHidden,
		"num_hidden_layers":       1,
		"num_attention_heads":     2,
		"intermediate_size":       32,
		"hidden_act":              "gelu",
		"max_position_embeddings": 32,
		"type_vocab_size":         2,
		"vocab_size":              len(tinyVocab),
		"layer_norm_eps":          1e-12,
		"pad_token_id":            0,
	})
}

func meanPooling(t testing.TB) []byte {
	return mustJSON(t, map[string]any{
		"word_embedding_dimension": tinyHidden,
		"pooling_mode_cls_token":   false,
		"pooling_mode_mean_tokens": true,
	})
}

// onnxRepoFiles is a sentence-transformers style repo with an ONNX export,
// plus files Pull must leave alone.
func onnxRepoFiles(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"onnx/model.onnx":       tinyONNX(t),
		"config.json":           tinyConfig(t),
		"vocab.txt":             vocabTxt(),
		"tokenizer_config.json": mustJSON(t, map[string]any{"do_lower_case": true, "model_max_length": 32}),
		"modules.json":          mustJSON(t, []map[string]any{{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}}),
		"1_Pooling/config.json": meanPooling(t),
		"README.md":             []byte("---\nlicense: apache-2.0\n---\n# tiny\n"),
		"pytorch_model.bin":     []byte("not loaded: a pickle"),
		".gitattributes":        []byte("*.onnx filter=lfs diff=lfs merge=lfs -text\n"),
	}
}
