package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// dirMeta is what the encoder reads from a model directory besides the
// ONNX graph: the bertserve manifest, the Hugging Face config and the
// sentence-transformers pooling config, all optional.
type dirMeta struct {
	Name      string
	MaxLength int    // 0 when unknown
	Pooling   string // manifest or sentence-transformers pooling, "" when unknown
	STPooling string // "cls" or "mean" from 1_Pooling/config.json
	// Normalize is the manifest's "normalize": the model's embeddings are
	// defined L2-normalized (a sentence-transformers Normalize module).
	Normalize bool
	// DType and QuantizedFrom are the manifest's: "int8" and the sha256 of
	// the float32 model.onnx it was quantized from, for quantized models
	// (for a fused float32 model, the one it was rebuilt from).
	DType, QuantizedFrom string
}

func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("%s is not valid JSON: %w", path, err)
	}
	return true, nil
}

func readDirMeta(dir string) (dirMeta, error) {
	m := dirMeta{Name: filepath.Base(filepath.Clean(dir))}
	var man struct {
		Name      string `json:"name"`
		MaxLength int    `json:"max_length"`
		Pooling   string `json:"pooling"`
		Normalize bool   `json:"normalize"`
		DType     string `json:"dtype"`
		QuantFrom string `json:"quantized_from"`
		FusedFrom string `json:"fused_from"`
	}
	if ok, err := readJSON(filepath.Join(dir, "bertserve.json"), &man); err != nil {
		return m, err
	} else if ok {
		if man.Name != "" {
			m.Name = man.Name
		}
		m.MaxLength, m.Pooling, m.Normalize = man.MaxLength, man.Pooling, man.Normalize
		m.DType, m.QuantizedFrom = man.DType, man.QuantFrom
		if m.QuantizedFrom == "" {
			m.QuantizedFrom = man.FusedFrom // a fused float32 graph
		}
	}
	var cfg struct {
		ModelType  string `json:"model_type"`
		MaxPos     int    `json:"max_position_embeddings"`
		PadTokenID int    `json:"pad_token_id"`
	}
	if ok, err := readJSON(filepath.Join(dir, "config.json"), &cfg); err != nil {
		return m, err
	} else if ok && m.MaxLength == 0 && cfg.MaxPos > 0 {
		m.MaxLength = cfg.MaxPos
		if cfg.ModelType == "roberta" || cfg.ModelType == "xlm-roberta" || cfg.ModelType == "camembert" {
			// Positions start at padding_idx+1, so two are unusable.
			m.MaxLength = cfg.MaxPos - cfg.PadTokenID - 1
		}
	}
	var st struct {
		CLS  bool `json:"pooling_mode_cls_token"`
		Mean bool `json:"pooling_mode_mean_tokens"`
		Max  bool `json:"pooling_mode_max_tokens"`
	}
	if ok, err := readJSON(filepath.Join(dir, "1_Pooling", "config.json"), &st); err != nil {
		return m, err
	} else if ok {
		switch {
		case st.Mean:
			m.STPooling = "mean"
		case st.CLS:
			m.STPooling = "cls"
		case st.Max:
			m.STPooling = "max"
		}
	}
	return m, nil
}
