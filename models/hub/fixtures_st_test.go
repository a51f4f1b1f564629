package hub

import (
	"bytes"
	"fmt"
	"sort"
	"testing"

	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/safetensors"
)

// tinyBERT returns random BERT weights for tinyConfig under Hugging Face
// checkpoint names with the "bert." prefix (as BertModel checkpoints
// saved from BertForSequenceClassification and friends have them).
func tinyBERT(t testing.TB, seed uint64) (*models.Config, models.Weights) {
	t.Helper()
	cfg, err := models.ParseConfig(tinyConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	w := models.RandomWeightsWith(cfg, models.RandomOptions{Seed: seed, Pooler: true, PerturbAll: true})
	prefixed := models.Weights{}
	for name, tensor := range w {
		prefixed["bert."+name] = tensor
	}
	return cfg, prefixed
}

func safetensorsBytes(t testing.TB, w models.Weights) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, w, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bertRepoFiles is a transformers BERT repo without an ONNX export:
// config, single-file safetensors weights, the tokenizer, plus the
// pickled and TensorFlow weights real repos also carry (never fetched).
func bertRepoFiles(t testing.TB, w models.Weights) map[string][]byte {
	return map[string][]byte{
		"config.json":           tinyConfig(t),
		"model.safetensors":     safetensorsBytes(t, w),
		"vocab.txt":             vocabTxt(),
		"tokenizer_config.json": mustJSON(t, map[string]any{"do_lower_case": false, "model_max_length": 32}),
		"pytorch_model.bin":     bytes.Repeat([]byte{0x80, 0x02}, 1000),
		"tf_model.h5":           bytes.Repeat([]byte{0x89}, 1500),
		"README.md":             []byte("---\nlanguage: zh\nlicense: apache-2.0\n---\n"),
	}
}

// shardedRepoFiles splits the weights over n safetensors shards with the
// index transformers writes (model-0000i-of-0000n.safetensors).
func shardedRepoFiles(t testing.TB, w models.Weights, n int) map[string][]byte {
	files := bertRepoFiles(t, w)
	delete(files, "model.safetensors")
	names := make([]string, 0, len(w))
	for k := range w {
		names = append(names, k)
	}
	sort.Strings(names)
	shards := make([]models.Weights, n)
	weightMap := map[string]string{}
	for i, name := range names {
		s := i * n / len(names)
		if shards[s] == nil {
			shards[s] = models.Weights{}
		}
		shards[s][name] = w[name]
		weightMap[name] = fmt.Sprintf("model-%05d-of-%05d.safetensors", s+1, n)
	}
	for i, sh := range shards {
		files[fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)] = safetensorsBytes(t, sh)
	}
	files["model.safetensors.index.json"] = mustJSON(t, map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": weightMap})
	return files
}
