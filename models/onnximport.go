package models

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ONNXImportOptions adjust ImportONNX. Zero values take what the files
// next to the .onnx say, else the defaults noted.
type ONNXImportOptions struct {
	Name string
	// Source defaults to "onnx:<absolute path>".
	Source      string
	License     string
	Description string
	// Tokenizer is a tokenizer.json or vocab.txt; default: tokenizer.json,
	// <name>-tokenizer.json or vocab.txt next to the .onnx file or in its
	// parent folder (a hub repo keeps the export in onnx/model.onnx and
	// the tokenizer at the top).
	Tokenizer string
	// Pooling is cls, mean or max; default the sentence-transformers
	// pooling next to the export, else mean.
	Pooling   string
	Normalize bool
	// MaxLength defaults to sentence-transformers' max_seq_length, the
	// tokenizer's model_max_length, else the position table's size.
	MaxLength int
	// Packages are recorded in the manifest.
	Packages []Package
}

// ImportONNX makes a model directory from a BERT encoder's ONNX export:
// RecoverONNX reads the architecture and the weights out of the graph,
// and WriteModelDir writes model.safetensors (the recovered weights under
// Hugging Face names), a config.json derived from the graph, and a
// model.onnx built by this package's builder from those weights, so the
// directory is like one imported from Hugging Face safetensors. The
// export itself is not copied. Side files found next to the export
// (tokenizer_config.json, special_tokens_map.json, the
// sentence-transformers modules.json and 1_Pooling/config.json) are.
func ImportONNX(onnxPath, outDir string, opts ONNXImportOptions) (*Manifest, *Recovered, error) {
	data, err := os.ReadFile(onnxPath)
	if err != nil {
		return nil, nil, fmt.Errorf("importing an ONNX export: %w", err)
	}
	rec, err := RecoverONNX(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", onnxPath, err)
	}
	here := filepath.Dir(onnxPath)
	dirs := []string{here, filepath.Dir(here)}
	tok := opts.Tokenizer
	stem := strings.TrimSuffix(filepath.Base(onnxPath), filepath.Ext(onnxPath))
	// langchain4j's jars name it <model>-tokenizer.json.
	for _, name := range []string{TokenizerJSONFile, stem + "-tokenizer.json", VocabFile} {
		for _, d := range dirs {
			if p := filepath.Join(d, name); tok == "" && fileExists(p) {
				tok = p
			}
		}
	}
	if tok == "" {
		return nil, nil, fmt.Errorf("importing %s: no tokenizer.json or vocab.txt next to it or in its parent folder; pass one (--tokenizer FILE)", onnxPath)
	}
	cfg := rec.Config
	if id, ok := padTokenID(tok); ok {
		if id < 0 || id >= cfg.VocabSize {
			return nil, nil, fmt.Errorf("importing %s: the tokenizer's [PAD] id %d is outside the model's vocabulary of %d", onnxPath, id, cfg.VocabSize)
		}
		cfg.PadTokenID = id
	}
	if n := tokenizerVocabSize(tok); n > cfg.VocabSize {
		return nil, nil, fmt.Errorf("importing %s: the tokenizer %s has %d tokens but the model's embedding table only %d rows; is it the model's tokenizer?", onnxPath, tok, n, cfg.VocabSize)
	}
	files := map[string]string{}
	// The folder with the side files: the one with config.json or
	// modules.json, else the tokenizer's.
	root := here
	if d := filepath.Dir(tok); d == dirs[1] {
		root = d
	}
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "modules.json")) || fileExists(filepath.Join(d, ConfigFile)) {
			root = d
			break
		}
	}
	if err := checkONNXConfig(filepath.Join(root, ConfigFile), cfg); err != nil {
		return nil, nil, fmt.Errorf("importing %s: %w", onnxPath, err)
	}
	st, err := readSentenceTransformers(root)
	if err != nil {
		return nil, nil, fmt.Errorf("importing %s: %w", onnxPath, err)
	}
	if len(st.unsupported) > 0 {
		return nil, nil, fmt.Errorf("importing %s: the sentence-transformers pipeline next to it has %s, which bertserve does not apply", onnxPath, strings.Join(st.unsupported, ", "))
	}
	for _, name := range append(append([]string{}, hfSideFiles[:2]...), stSideFiles...) {
		if p := filepath.Join(root, name); fileExists(p) {
			files[name] = p
		}
	}
	if st.poolingDir != "" {
		files[st.poolingDir+"/config.json"] = filepath.Join(root, filepath.FromSlash(st.poolingDir), "config.json")
	}
	spec := DirSpec{
		Config: cfg, Weights: rec.Weights, Tokenizer: tok, Files: files,
		Name: opts.Name, Source: opts.Source, License: opts.License, Description: opts.Description,
		Pooling: opts.Pooling, Normalize: opts.Normalize || st.normalize, MaxLength: opts.MaxLength,
		Packages: opts.Packages,
	}
	if spec.Name == "" {
		spec.Name = strings.TrimSuffix(filepath.Base(onnxPath), ".onnx")
	}
	if spec.Source == "" {
		abs, err := filepath.Abs(onnxPath)
		if err != nil {
			return nil, nil, err
		}
		spec.Source = "onnx:" + abs
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
		return nil, nil, fmt.Errorf("importing %s: %w", onnxPath, err)
	}
	return m, rec, nil
}

// checkONNXConfig compares the architecture read off a graph with a
// config.json found next to it, if any.
func checkONNXConfig(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	c, err := ParseConfig(data)
	if err != nil {
		return fmt.Errorf("%s next to the export: %w", path, err)
	}
	var bad []string
	for _, f := range []struct {
		name      string
		file, got int
	}{
		{"hidden_size", c.HiddenSize, cfg.HiddenSize}, {"num_hidden_layers", c.NumLayers, cfg.NumLayers},
		{"num_attention_heads", c.NumHeads, cfg.NumHeads}, {"intermediate_size", c.IntermediateSize, cfg.IntermediateSize},
		{"vocab_size", c.VocabSize, cfg.VocabSize}, {"max_position_embeddings", c.MaxPositions, cfg.MaxPositions},
	} {
		if f.file != f.got {
			bad = append(bad, fmt.Sprintf("%s %d (the graph has %d)", f.name, f.file, f.got))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s does not describe the graph: %s", path, strings.Join(bad, ", "))
	}
	cfg.PadTokenID = c.PadTokenID
	return nil
}

// padTokenID finds the [PAD] (or <pad>) id of a tokenizer.json or
// vocab.txt.
func padTokenID(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	if strings.HasSuffix(strings.ToLower(path), ".txt") {
		for i, line := range strings.Split(string(data), "\n") {
			if t := strings.TrimRight(line, "\r"); t == "[PAD]" || t == "<pad>" {
				return i, true
			}
		}
		return 0, false
	}
	var tj struct {
		Padding *struct {
			PadID int `json:"pad_id"`
		} `json:"padding"`
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
	}
	if json.Unmarshal(data, &tj) != nil {
		return 0, false
	}
	if tj.Padding != nil {
		return tj.Padding.PadID, true
	}
	for _, t := range tj.AddedTokens {
		if t.Content == "[PAD]" || t.Content == "<pad>" {
			return t.ID, true
		}
	}
	return 0, false
}

// tokenizerVocabSize is the number of tokens a tokenizer.json's model (or
// a vocab.txt) has, 0 when unknown.
func tokenizerVocabSize(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	if strings.HasSuffix(strings.ToLower(path), ".txt") {
		return len(strings.Split(strings.TrimRight(string(data), "\n"), "\n"))
	}
	var tj struct {
		Model struct {
			Vocab map[string]int `json:"vocab"`
		} `json:"model"`
	}
	if json.Unmarshal(data, &tj) != nil {
		return 0
	}
	n := 0
	for _, id := range tj.Model.Vocab {
		n = max(n, id+1)
	}
	return n
}
