package hub

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
)

// Pull takes one of two routes through a repository.
const (
	routeONNX        = "onnx"        // the weights are recovered from an ONNX export (models.ImportONNX)
	routeSafetensors = "safetensors" // weights are converted by models.ImportHF
)

// supportFiles are the small files a model directory may use besides the
// weights, downloaded when the repository has them: the Hugging Face
// config, tokenizer files and the sentence-transformers pipeline.
var supportFiles = []string{
	"config.json",
	"tokenizer.json",
	"vocab.txt",
	"vocab.json",
	"merges.txt",
	"sentencepiece.bpe.model",
	"tokenizer_config.json",
	"special_tokens_map.json",
	"added_tokens.json",
	"modules.json",
	"sentence_bert_config.json",
	"config_sentence_transformers.json",
	"1_Pooling/config.json",
}

// onnxCandidates are the ONNX exports Pull accepts, best first: the
// layout of Optimum and sentence-transformers exports, then a bare
// model.onnx at the top.
var onnxCandidates = []string{"onnx/model.onnx", "model.onnx"}

// plan is what to download from a repository and how to turn it into a
// model directory.
type plan struct {
	route string
	onnx  string   // route onnx: the export's path in the repo
	files []string // repo paths to download (shards come later, from the index)
	index string   // route safetensors: the shard index, when sharded
}

// makePlan picks the route for a repository from its file list.
func makePlan(repo string, files map[string]bool) (plan, error) {
	var pl plan
	for _, f := range supportFiles {
		if files[f] {
			pl.files = append(pl.files, f)
		}
	}
	hasTokenizer := files["tokenizer.json"] || files["vocab.txt"]
	// Safetensors weights win over an ONNX export: the builder makes
	// model.onnx from them either way, and they are the checkpoint itself
	// (an export may be quantized, fused or missing the pooler).
	hasWeights := files["model.safetensors"] || files["model.safetensors.index.json"]
	if files["config.json"] && hasWeights && hasTokenizer {
		return weightsPlan(pl, files), nil
	}
	for _, c := range onnxCandidates {
		if !files[c] {
			continue
		}
		if !hasTokenizer {
			return plan{}, fmt.Errorf("%s has %s but neither tokenizer.json nor vocab.txt: %w; download a tokenizer for it and run `bertserve import --from DIR`", repo, c, ErrUnsupported)
		}
		pl.route, pl.onnx = routeONNX, c
		pl.files = append(pl.files, c)
		// External weights (models over 2 GiB) sit next to the graph
		// under the name the graph refers to.
		for _, ext := range []string{c + "_data", c + ".data"} {
			if files[ext] {
				pl.files = append(pl.files, ext)
			}
		}
		return pl, nil
	}
	if !files["config.json"] {
		return plan{}, fmt.Errorf("%s has no config.json and no onnx/model.onnx: %w (is it a transformers model repo?)", repo, ErrUnsupported)
	}
	if !hasWeights {
		return plan{}, noSafetensorsError(repo, files)
	}
	if !hasTokenizer {
		return plan{}, fmt.Errorf("%s has weights but neither tokenizer.json nor vocab.txt: %w; add a tokenizer to a local copy and run `bertserve import --from DIR`", repo, ErrUnsupported)
	}
	return weightsPlan(pl, files), nil
}

// weightsPlan completes pl for the safetensors route: one file, or the
// shard index (the shards come later, from the index).
func weightsPlan(pl plan, files map[string]bool) plan {
	if files["model.safetensors"] {
		pl.files = append(pl.files, "model.safetensors")
	} else {
		pl.index = "model.safetensors.index.json"
		pl.files = append(pl.files, pl.index)
	}
	pl.route = routeSafetensors
	return pl
}

// noSafetensorsError explains why a repository without safetensors or
// ONNX weights is refused, naming what it does have.
func noSafetensorsError(repo string, files map[string]bool) error {
	var weights []string
	for f := range files {
		if strings.HasSuffix(f, ".bin") || strings.HasSuffix(f, ".h5") || strings.HasSuffix(f, ".msgpack") ||
			strings.HasSuffix(f, ".ckpt") || strings.HasSuffix(f, ".pt") || strings.HasSuffix(f, ".pth") {
			weights = append(weights, f)
		}
	}
	sort.Strings(weights)
	if len(weights) == 0 {
		return fmt.Errorf("%s has neither onnx/model.onnx nor model.safetensors: %w", repo, ErrUnsupported)
	}
	return fmt.Errorf("%s has only %s: %w: bertserve never loads pytorch_model.bin or other pickled weights, because unpickling runs code from the file. "+
		"Look on the hub for a safetensors conversion of this model (often an open pull request: pull it with --revision refs/pr/N), "+
		"or convert it yourself on a machine you trust and run `bertserve import --from DIR`",
		repo, strings.Join(weights, ", "), ErrUnsupported)
}

// shardsFromIndex reads a model.safetensors.index.json and returns the
// shard files its weight_map names, each checked against the repo.
func shardsFromIndex(indexPath string, files map[string]bool) ([]string, error) {
	b, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	return parseShardIndex(b, files)
}

func parseShardIndex(b []byte, files map[string]bool) ([]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("model.safetensors.index.json: %w", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("model.safetensors.index.json has an empty weight_map")
	}
	seen := map[string]bool{}
	var shards []string
	for _, f := range idx.WeightMap {
		if seen[f] {
			continue
		}
		seen[f] = true
		if err := checkRepoPath(f); err != nil || path.Ext(f) != ".safetensors" {
			return nil, fmt.Errorf("model.safetensors.index.json names %q, which is not a safetensors file in the repo", f)
		}
		if !files[f] {
			return nil, fmt.Errorf("model.safetensors.index.json names %s, which the repo does not have", f)
		}
		shards = append(shards, f)
	}
	sort.Strings(shards)
	return shards, nil
}

// moduleConfigs returns the config files of the sentence-transformers
// modules that modules.json (already in stage) places outside the usual
// 1_Pooling folder, when the repo has them and they are not planned yet.
// Unknown module types are left to the importer, which names them.
func moduleConfigs(stage string, files map[string]bool, planned []string) ([]string, error) {
	var mods []struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	if ok, err := readJSONFile(stage, "modules.json", &mods); err != nil || !ok {
		return nil, err
	}
	var extra []string
	for _, m := range mods {
		if m.Path == "" || checkRepoPath(m.Path) != nil {
			continue
		}
		f := m.Path + "/config.json"
		if files[f] && !slices.Contains(planned, f) && !slices.Contains(extra, f) {
			extra = append(extra, f)
		}
	}
	return extra, nil
}
