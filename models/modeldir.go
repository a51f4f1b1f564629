package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/models/safetensors"
)

// DirSpec is what WriteModelDir turns into a model directory.
type DirSpec struct {
	Config *Config
	// ConfigJSON is written as config.json; nil means Config.MarshalHF().
	// Importers pass the original file so nothing in it is lost.
	ConfigJSON []byte
	Weights    Weights
	// WeightsFile is a model.safetensors holding Weights, copied byte for
	// byte into the directory; "" means Weights are written as float32
	// safetensors. Either way the directory keeps the real weights under
	// Hugging Face names for code that trains inside the encoder.
	WeightsFile string
	// Tokenizer is the path of a tokenizer.json or vocab.txt to copy.
	Tokenizer string
	// Files are more files to copy, by name inside the directory (slash
	// separated, e.g. "1_Pooling/config.json") to source path.
	Files map[string]string

	Name    string
	Source  string
	License string
	// Pooling is one of Poolings; "" means mean. "pooler" needs a pooler
	// in the weights.
	Pooling   string
	Normalize bool
	// MaxLength is the longest input in tokens; 0 means the position
	// table's limit (Config.MaxLength).
	MaxLength int
	// Description and Packages go into the manifest as they are.
	Description string
	Packages    []Package
}

// WriteModelDir builds the ONNX encoder for spec and writes the model
// directory: model.onnx, model.safetensors (the weights the graph was
// built from, under Hugging Face names), the tokenizer, config.json, the
// extra files, and last bertserve.json with the sha256 of every other
// file, so a directory with a manifest is complete. Each file is written
// atomically; an existing directory's files are replaced.
func WriteModelDir(dir string, spec DirSpec) (*Manifest, error) {
	if spec.Config == nil {
		return nil, errors.New("model directory spec has no Config")
	}
	tokName, err := tokenizerName(spec.Tokenizer)
	if err != nil {
		return nil, err
	}
	pooling := spec.Pooling
	if pooling == "" {
		pooling = "mean"
	}
	if !validPooling(pooling) || pooling == "model" {
		return nil, fmt.Errorf("pooling %q is not one of cls, mean, max, pooler", pooling)
	}
	maxLen, limit := spec.MaxLength, spec.Config.MaxLength()
	if maxLen > limit {
		return nil, fmt.Errorf("max length %d exceeds the %d positions the model has", maxLen, limit)
	}
	if maxLen <= 0 {
		maxLen = limit
	}
	cfgJSON := spec.ConfigJSON
	if cfgJSON == nil {
		if cfgJSON, err = spec.Config.MarshalHF(); err != nil {
			return nil, err
		}
	}
	for name := range spec.Files {
		if err := checkRelName(name); err != nil {
			return nil, err
		}
	}

	built, err := Build(spec.Config, spec.Weights)
	if err != nil {
		return nil, err
	}
	if pooling == "pooler" && !built.HasPooler {
		return nil, fmt.Errorf("pooling \"pooler\" needs pooler.dense weights, which this %s checkpoint does not have; use cls or mean", spec.Config.ModelType)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	h := sha256.New()
	err = atomicfile.Write(filepath.Join(dir, ModelFile), func(w io.Writer) error {
		_, err := built.Model.WriteTo(io.MultiWriter(w, h))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", ModelFile, err)
	}
	if err := writeWeights(filepath.Join(dir, WeightsFile), spec); err != nil {
		return nil, err
	}
	if err := copyFile(filepath.Join(dir, tokName), spec.Tokenizer); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, ConfigFile), cfgJSON); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(spec.Files))
	for name := range spec.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := copyFile(dst, spec.Files[name]); err != nil {
			return nil, err
		}
	}
	name := spec.Name
	if name == "" {
		name = filepath.Base(filepath.Clean(dir))
	}
	sums := map[string]string{ModelFile: hex.EncodeToString(h.Sum(nil))}
	for _, rel := range append([]string{WeightsFile, tokName, ConfigFile}, names...) {
		if sums[rel], err = FileSHA256(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return nil, err
		}
	}
	m := &Manifest{
		Format:       ManifestFormat,
		Name:         name,
		Source:       spec.Source,
		License:      spec.License,
		Architecture: spec.Config.ModelType,
		SHA256:       hex.EncodeToString(h.Sum(nil)),
		Dim:          spec.Config.HiddenSize,
		Pooling:      pooling,
		Normalize:    spec.Normalize,
		MaxLength:    maxLen,
		Tokenizer:    tokName,
		Inputs:       built.Inputs,
		Outputs:      built.Outputs,
		Description:  spec.Description,
		DType:        "float32",
		Builder:      BuilderVersion,
		Packages:     spec.Packages,
		Files:        sums,
	}
	if err := WriteManifest(dir, m); err != nil {
		return nil, err
	}
	return m, nil
}

// writeWeights puts the weights at dst: spec.WeightsFile copied verbatim
// (nothing to do when it already is dst), else spec.Weights as float32
// safetensors.
func writeWeights(dst string, spec DirSpec) error {
	if spec.WeightsFile != "" {
		if a, err := os.Stat(spec.WeightsFile); err == nil {
			if b, err := os.Stat(dst); err == nil && os.SameFile(a, b) {
				return nil
			}
		}
		if err := copyFile(dst, spec.WeightsFile); err != nil {
			return fmt.Errorf("copying the weights: %w", err)
		}
		return nil
	}
	if err := safetensors.WriteFile(dst, spec.Weights, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("writing %s: %w", WeightsFile, err)
	}
	return nil
}

// tokenizerName is the name a tokenizer file gets in a model directory.
func tokenizerName(path string) (string, error) {
	if path == "" {
		return "", errors.New("no tokenizer given: a model directory needs a tokenizer.json (or a WordPiece vocab.txt)")
	}
	switch base := strings.ToLower(filepath.Base(path)); {
	case strings.HasSuffix(base, ".json"):
		return TokenizerJSONFile, nil
	case strings.HasSuffix(base, ".txt"):
		return VocabFile, nil
	}
	return "", fmt.Errorf("tokenizer %s is neither a tokenizer.json nor a vocab.txt", path)
}

// checkRelName rejects names that would escape the model directory.
func checkRelName(name string) error {
	clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(name)))
	if name == "" || filepath.IsAbs(name) || clean != name || strings.HasPrefix(clean, "../") || clean == ".." || clean == "." {
		return fmt.Errorf("file name %q must be a clean relative path inside the model directory", name)
	}
	return nil
}

// copyFile copies src to dst atomically.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
