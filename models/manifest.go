package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// File names inside a model directory.
const (
	ManifestFile      = "bertserve.json"
	ModelFile         = "model.onnx"
	ConfigFile        = "config.json"
	TokenizerJSONFile = "tokenizer.json"
	VocabFile         = "vocab.txt"
	WeightsFile       = "model.safetensors"
)

// ManifestFormat is the Manifest.Format this package writes.
const ManifestFormat = 1

// Poolings a manifest may name: cls (hidden state of the first token),
// mean (masked mean of the hidden states), max (masked max), pooler (the
// model's pooler_output) and model (the graph's own single output, for
// models such as USE-lite that pool inside the graph).
var Poolings = []string{"cls", "mean", "max", "pooler", "model"}

// Manifest is bertserve.json: where a model directory came from and how
// to use it.
type Manifest struct {
	Format int    `json:"format"`
	Name   string `json:"name"`
	// Source says where the weights came from: "hf:<repo>@<revision>",
	// "dir:<path>", "random:seed=<n>", ...
	Source  string `json:"source"`
	License string `json:"license,omitempty"`
	// Architecture is the Hugging Face model_type ("bert", "roberta",
	// "distilbert", ...).
	Architecture string `json:"architecture"`
	// SHA256 is the hex digest of model.onnx.
	SHA256 string `json:"sha256"`
	// Dim is the embedding width (hidden size).
	Dim       int    `json:"dim"`
	Pooling   string `json:"pooling"`
	Normalize bool   `json:"normalize,omitempty"`
	// MaxLength is the longest token sequence (special tokens included)
	// the model accepts.
	MaxLength int `json:"max_length"`
	// Tokenizer is the tokenizer file in the directory: tokenizer.json or
	// vocab.txt.
	Tokenizer string   `json:"tokenizer"`
	Inputs    []string `json:"inputs,omitempty"`
	Outputs   []string `json:"outputs,omitempty"`
}

// Validate checks the fields a model directory needs.
func (m *Manifest) Validate() error {
	var bad []string
	if m.Format > ManifestFormat {
		bad = append(bad, fmt.Sprintf("format %d is newer than this bertserve understands (%d); upgrade bertserve", m.Format, ManifestFormat))
	}
	if len(m.SHA256) != 64 || strings.Trim(m.SHA256, "0123456789abcdef") != "" {
		bad = append(bad, fmt.Sprintf("sha256 %q is not a hex SHA-256 digest", m.SHA256))
	}
	if m.Dim < 0 {
		bad = append(bad, fmt.Sprintf("dim %d is negative", m.Dim))
	}
	if m.MaxLength < 0 {
		bad = append(bad, fmt.Sprintf("max_length %d is negative", m.MaxLength))
	}
	if m.Pooling != "" && !validPooling(m.Pooling) {
		bad = append(bad, fmt.Sprintf("pooling %q is not one of %s", m.Pooling, strings.Join(Poolings, ", ")))
	}
	if m.Tokenizer != "" && (filepath.Base(m.Tokenizer) != m.Tokenizer || m.Tokenizer == "." || m.Tokenizer == "..") {
		bad = append(bad, fmt.Sprintf("tokenizer %q must be a file name in the model directory", m.Tokenizer))
	}
	if len(bad) > 0 {
		return fmt.Errorf("invalid %s: %s", ManifestFile, strings.Join(bad, "; "))
	}
	return nil
}

func validPooling(p string) bool {
	for _, q := range Poolings {
		if p == q {
			return true
		}
	}
	return false
}

// ParseManifest decodes and validates bertserve.json content.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", ManifestFile, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ReadManifest reads dir/bertserve.json.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("reading model manifest: %w (is %s a model directory? build one with `bertserve build-model` or `bertserve import`)", err, dir)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// WriteManifest writes m to dir/bertserve.json atomically.
func WriteManifest(dir string, m *Manifest) error {
	if m.Format == 0 {
		m.Format = ManifestFormat
	}
	if err := m.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, ManifestFile), append(data, '\n'))
}

// Verify checks that dir/model.onnx has the digest the manifest records.
func (m *Manifest) Verify(dir string) error {
	sum, err := FileSHA256(filepath.Join(dir, ModelFile))
	if err != nil {
		return err
	}
	if sum != m.SHA256 {
		return fmt.Errorf("%s has sha256 %s but %s records %s: the model was changed or damaged; rebuild or re-import it", filepath.Join(dir, ModelFile), sum, ManifestFile, m.SHA256)
	}
	return nil
}

// FileSHA256 returns the hex SHA-256 digest of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
