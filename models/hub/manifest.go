package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bertserve/bertserve/models"
)

// sourceOf is the manifest's source string for a pulled model:
// "hf:<repo>@<commit>", so the exact weights can be fetched again.
func sourceOf(src source) string {
	s := "hf:" + src.Repo + "@" + src.Commit
	if src.Endpoint != DefaultEndpoint {
		s += " via " + src.Endpoint
	}
	return s
}

// importHF converts the downloaded Hugging Face folder with
// models.ImportHF (or Options.Import).
func (p *puller) importHF(stage, out string, src source) error {
	if p.Import != nil {
		return p.Import(stage, out)
	}
	_, err := models.ImportHF(stage, out, models.ImportOptions{
		Name:    src.Repo,
		Source:  sourceOf(src),
		License: src.License,
	})
	return err
}

// onnxMeta is what a pulled ONNX export's side files say about using it.
type onnxMeta struct {
	arch      string
	dim       int
	maxLength int
	pooling   string
	normalize bool
}

// readJSONFile decodes dir/name into v; a missing file is not an error.
func readJSONFile(dir, name string, v any) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("%s from the repo is not valid JSON: %w", name, err)
	}
	return true, nil
}

// readONNXMeta reads config.json, the tokenizer config and the
// sentence-transformers files of an assembled ONNX model directory. It is
// lenient about the architecture (the graph is used as exported, not
// rebuilt), so config.json is read directly rather than through
// models.ParseConfig.
func readONNXMeta(dir string) (onnxMeta, error) {
	var m onnxMeta
	var cfg struct {
		ModelType  string `json:"model_type"`
		Hidden     int    `json:"hidden_size"`
		Dim        int    `json:"dim"` // DistilBERT
		MaxPos     int    `json:"max_position_embeddings"`
		PadTokenID int    `json:"pad_token_id"`
	}
	if _, err := readJSONFile(dir, "config.json", &cfg); err != nil {
		return m, err
	}
	m.arch, m.dim, m.maxLength = cfg.ModelType, max(cfg.Hidden, cfg.Dim), cfg.MaxPos
	switch cfg.ModelType {
	case "roberta", "xlm-roberta", "camembert":
		// Positions start after padding_idx, so the table holds fewer tokens.
		m.maxLength = cfg.MaxPos - cfg.PadTokenID - 1
	}
	var tc struct {
		ModelMaxLength float64 `json:"model_max_length"`
	}
	if _, err := readJSONFile(dir, "tokenizer_config.json", &tc); err != nil {
		return m, err
	}
	if l := int(tc.ModelMaxLength); tc.ModelMaxLength > 0 && tc.ModelMaxLength < 1e6 && (m.maxLength == 0 || l < m.maxLength) {
		m.maxLength = l
	}
	var sb struct {
		MaxSeqLength int `json:"max_seq_length"`
	}
	if _, err := readJSONFile(dir, "sentence_bert_config.json", &sb); err != nil {
		return m, err
	}
	if sb.MaxSeqLength > 0 && (m.maxLength == 0 || sb.MaxSeqLength < m.maxLength) {
		m.maxLength = sb.MaxSeqLength
	}
	var mods []struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	if _, err := readJSONFile(dir, "modules.json", &mods); err != nil {
		return m, err
	}
	for _, mod := range mods {
		switch mod.Type[strings.LastIndex(mod.Type, ".")+1:] {
		case "Normalize":
			m.normalize = true
		case "Pooling":
			var pc struct {
				CLS  bool `json:"pooling_mode_cls_token"`
				Mean bool `json:"pooling_mode_mean_tokens"`
				Max  bool `json:"pooling_mode_max_tokens"`
			}
			if checkRepoPath(mod.Path) != nil {
				continue
			}
			if _, err := readJSONFile(dir, mod.Path+"/config.json", &pc); err != nil {
				return m, err
			}
			switch {
			case pc.Mean:
				m.pooling = "mean"
			case pc.CLS:
				m.pooling = "cls"
			case pc.Max:
				m.pooling = "max"
			}
		}
	}
	return m, nil
}

// writeONNXManifest writes bertserve.json for an assembled ONNX export.
// Pooling stays empty when the repo does not name one, so the encoder
// picks from the graph's outputs (pooling auto).
func writeONNXManifest(dir string, src source) error {
	meta, err := readONNXMeta(dir)
	if err != nil {
		return err
	}
	sum, err := models.FileSHA256(filepath.Join(dir, models.ModelFile))
	if err != nil {
		return err
	}
	tok := models.TokenizerJSONFile
	if _, err := os.Stat(filepath.Join(dir, tok)); err != nil {
		tok = models.VocabFile
	}
	return models.WriteManifest(dir, &models.Manifest{
		Name:         src.Repo,
		Source:       sourceOf(src),
		License:      src.License,
		Architecture: meta.arch,
		SHA256:       sum,
		Dim:          meta.dim,
		Pooling:      meta.pooling,
		Normalize:    meta.normalize,
		MaxLength:    meta.maxLength,
		Tokenizer:    tok,
	})
}
