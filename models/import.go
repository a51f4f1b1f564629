package models

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bertserve/bertserve/models/safetensors"
)

// ImportOptions adjust ImportHF. Zero values take what the folder says.
type ImportOptions struct {
	Name string
	// Source defaults to "dir:<absolute folder path>".
	Source string
	// License defaults to the license in README.md's front matter.
	License string
	// Pooling overrides the sentence-transformers pooling (default mean).
	Pooling string
	// MaxLength overrides sentence-transformers' max_seq_length and the
	// tokenizer's model_max_length.
	MaxLength int
	// IgnoreExtraModules imports sentence-transformers models whose
	// modules.json lists modules after pooling that bertserve does not
	// apply (Dense, ...), giving the pooled encoder output instead of the
	// pipeline's embedding.
	IgnoreExtraModules bool
	// Description and Packages go into the manifest.
	Description string
	Packages    []Package
}

// Files copied from a Hugging Face folder when present.
var hfSideFiles = []string{
	"tokenizer_config.json", "special_tokens_map.json", "README.md",
}

// Files of the sentence-transformers pipeline, at the folder's top level.
var stSideFiles = []string{
	"modules.json", "config_sentence_transformers.json", "sentence_bert_config.json",
}

type stModule struct {
	Path string `json:"path"`
	Type string `json:"type"`
}

// stInfo is what a sentence-transformers folder says about pooling.
type stInfo struct {
	modelDir    string // folder holding the transformer (config.json, weights)
	poolingDir  string // relative path of the Pooling module, "" if none
	pooling     string
	normalize   bool
	maxSeqLen   int
	unsupported []string
}

func readSentenceTransformers(from string) (*stInfo, error) {
	info := &stInfo{modelDir: from}
	data, err := os.ReadFile(filepath.Join(from, "modules.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return info, nil
	}
	if err != nil {
		return nil, err
	}
	var mods []stModule
	if err := json.Unmarshal(data, &mods); err != nil {
		return nil, fmt.Errorf("modules.json: %w", err)
	}
	for _, m := range mods {
		if m.Path != "" {
			if err := checkRelName(m.Path); err != nil {
				return nil, fmt.Errorf("modules.json: %w", err)
			}
		}
		switch typ := m.Type[strings.LastIndex(m.Type, ".")+1:]; typ {
		case "Transformer":
			info.modelDir = filepath.Join(from, filepath.FromSlash(m.Path))
		case "Pooling":
			info.poolingDir = m.Path
			var p struct {
				CLS      bool `json:"pooling_mode_cls_token"`
				Mean     bool `json:"pooling_mode_mean_tokens"`
				Max      bool `json:"pooling_mode_max_tokens"`
				SqrtLen  bool `json:"pooling_mode_mean_sqrt_len_tokens"`
				Weighted bool `json:"pooling_mode_weightedmean_tokens"`
				Last     bool `json:"pooling_mode_lasttoken"`
			}
			b, err := os.ReadFile(filepath.Join(from, filepath.FromSlash(m.Path), "config.json"))
			if err != nil {
				return nil, fmt.Errorf("sentence-transformers pooling config: %w", err)
			}
			if err := json.Unmarshal(b, &p); err != nil {
				return nil, fmt.Errorf("%s/config.json: %w", m.Path, err)
			}
			modes := 0
			for _, on := range []bool{p.CLS, p.Mean, p.Max, p.SqrtLen, p.Weighted, p.Last} {
				if on {
					modes++
				}
			}
			switch {
			case modes != 1 || p.SqrtLen || p.Weighted || p.Last:
				info.unsupported = append(info.unsupported, "pooling mode other than one of cls, mean, max")
			case p.CLS:
				info.pooling = "cls"
			case p.Mean:
				info.pooling = "mean"
			case p.Max:
				info.pooling = "max"
			}
		case "Normalize":
			info.normalize = true
		default:
			info.unsupported = append(info.unsupported, m.Type)
		}
	}
	var sb struct {
		MaxSeqLength int `json:"max_seq_length"`
	}
	if b, err := os.ReadFile(filepath.Join(info.modelDir, "sentence_bert_config.json")); err == nil {
		if err := json.Unmarshal(b, &sb); err != nil {
			return nil, fmt.Errorf("sentence_bert_config.json: %w", err)
		}
		info.maxSeqLen = sb.MaxSeqLength
	}
	return info, nil
}

// fromManifest takes the pooling, normalization and max length that a
// bertserve model directory's bertserve.json records, where no
// sentence-transformers pipeline says otherwise: a model pulled or
// imported by bertserve (bge-small-zh: CLS + L2) is itself a Hugging Face
// folder, and importing it again must not fall back to mean pooling.
func (st *stInfo) fromManifest(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if st.poolingDir == "" && st.pooling == "" && validPooling(m.Pooling) && m.Pooling != "model" {
		st.pooling, st.normalize = m.Pooling, m.Normalize
	}
	if st.maxSeqLen == 0 {
		st.maxSeqLen = m.MaxLength
	}
	return nil
}

// ImportHF converts a Hugging Face model folder — config.json, weights in
// model.safetensors (or shards listed by model.safetensors.index.json),
// tokenizer.json or vocab.txt, and optionally a sentence-transformers
// pipeline (modules.json, 1_Pooling/config.json, Normalize) — into a
// bertserve model directory at outDir.
func ImportHF(fromDir, outDir string, opts ImportOptions) (*Manifest, error) {
	st, err := readSentenceTransformers(fromDir)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", fromDir, err)
	}
	if err := st.fromManifest(fromDir); err != nil {
		return nil, fmt.Errorf("importing %s: %w", fromDir, err)
	}
	if len(st.unsupported) > 0 && !opts.IgnoreExtraModules {
		return nil, fmt.Errorf("importing %s: the sentence-transformers pipeline has %s, which bertserve does not apply; pass IgnoreExtraModules (--ignore-extra-modules) to import the encoder with plain pooling", fromDir, strings.Join(st.unsupported, ", "))
	}
	root := st.modelDir
	cfgPath := filepath.Join(root, ConfigFile)
	cfgJSON, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w (a Hugging Face model folder has a config.json)", fromDir, err)
	}
	cfg, err := ParseConfig(cfgJSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	weights, err := ReadHFWeights(root)
	if err != nil {
		return nil, err
	}
	weightsFile := ""
	if p := filepath.Join(root, WeightsFile); fileExists(p) {
		weightsFile = p // one file: kept byte for byte
	}
	tok := ""
	for _, name := range []string{TokenizerJSONFile, VocabFile} {
		for _, dir := range []string{root, fromDir} {
			if p := filepath.Join(dir, name); tok == "" && fileExists(p) {
				tok = p
			}
		}
	}
	if tok == "" {
		return nil, fmt.Errorf("importing %s: no tokenizer.json or vocab.txt found", fromDir)
	}
	files := map[string]string{}
	for _, name := range hfSideFiles {
		if p := filepath.Join(root, name); fileExists(p) {
			files[name] = p
		}
	}
	if p := filepath.Join(root, VocabFile); filepath.Base(tok) != VocabFile && fileExists(p) {
		files[VocabFile] = p
	}
	for _, name := range stSideFiles {
		if p := filepath.Join(fromDir, name); fileExists(p) {
			files[name] = p
		}
	}
	if st.poolingDir != "" {
		files[st.poolingDir+"/config.json"] = filepath.Join(fromDir, filepath.FromSlash(st.poolingDir), "config.json")
	}
	spec := DirSpec{
		Config: cfg, ConfigJSON: cfgJSON, Weights: weights, WeightsFile: weightsFile, Tokenizer: tok, Files: files,
		Name: opts.Name, Source: opts.Source, License: opts.License,
		Pooling: opts.Pooling, Normalize: st.normalize, MaxLength: opts.MaxLength,
		Description: opts.Description, Packages: opts.Packages,
	}
	if spec.Name == "" {
		spec.Name = filepath.Base(filepath.Clean(fromDir))
	}
	if spec.Source == "" {
		abs, err := filepath.Abs(fromDir)
		if err != nil {
			return nil, err
		}
		spec.Source = "dir:" + abs
	}
	if spec.License == "" {
		spec.License = readmeLicense(filepath.Join(root, "README.md"))
	}
	if spec.Pooling == "" {
		spec.Pooling = st.pooling
	}
	if spec.MaxLength == 0 {
		spec.MaxLength = st.maxSeqLen
	}
	if spec.MaxLength == 0 {
		spec.MaxLength = tokenizerMaxLength(filepath.Join(root, "tokenizer_config.json"))
	}
	if spec.MaxLength > cfg.MaxLength() {
		spec.MaxLength = cfg.MaxLength()
	}
	m, err := WriteModelDir(outDir, spec)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", fromDir, err)
	}
	return m, nil
}

// ReadHFWeights reads the safetensors weights of a Hugging Face folder:
// model.safetensors, or the shards model.safetensors.index.json lists.
func ReadHFWeights(dir string) (Weights, error) {
	single := filepath.Join(dir, WeightsFile)
	if fileExists(single) {
		f, err := safetensors.ReadFile(single)
		if err != nil {
			return nil, err
		}
		return f.Tensors, nil
	}
	indexPath := filepath.Join(dir, WeightsFile+".index.json")
	data, err := os.ReadFile(indexPath)
	if errors.Is(err, fs.ErrNotExist) {
		for _, other := range []string{"pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"} {
			if fileExists(filepath.Join(dir, other)) {
				return nil, fmt.Errorf("%s has %s but no model.safetensors: bertserve reads only safetensors (pickled PyTorch files can run code on load); use a revision of the model with safetensors weights or convert it with transformers' save_pretrained(safe_serialization=True)", dir, other)
			}
		}
		return nil, fmt.Errorf("%s has no model.safetensors or model.safetensors.index.json", dir)
	}
	if err != nil {
		return nil, err
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("%s: %w", indexPath, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("%s has an empty weight_map", indexPath)
	}
	shards := map[string][]string{}
	for name, file := range index.WeightMap {
		if filepath.Base(file) != file || !strings.HasSuffix(file, ".safetensors") {
			return nil, fmt.Errorf("%s maps %q to %q, which is not a .safetensors file in the folder", indexPath, name, file)
		}
		shards[file] = append(shards[file], name)
	}
	files := make([]string, 0, len(shards))
	for f := range shards {
		files = append(files, f)
	}
	sort.Strings(files)
	out := Weights{}
	for _, file := range files {
		f, err := safetensors.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("shard listed in %s: %w", filepath.Base(indexPath), err)
		}
		for _, name := range shards[file] {
			t, ok := f.Tensors[name]
			if !ok {
				return nil, fmt.Errorf("%s says %q is in %s, but that shard does not hold it", filepath.Base(indexPath), name, file)
			}
			out[name] = t
		}
	}
	return out, nil
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// readmeLicense returns the "license:" value of a model card's YAML front
// matter, or "".
func readmeLicense(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != "---" {
		return ""
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "---" {
			break
		}
		if v, ok := strings.CutPrefix(line, "license:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// tokenizerMaxLength returns tokenizer_config.json's model_max_length, or
// 0 when absent or the "very large" placeholder transformers writes.
func tokenizerMaxLength(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var tc struct {
		ModelMaxLength float64 `json:"model_max_length"`
	}
	if json.Unmarshal(data, &tc) != nil || tc.ModelMaxLength <= 0 || tc.ModelMaxLength > 1e6 {
		return 0
	}
	return int(tc.ModelMaxLength)
}
