package models

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// QuantizeOptions configure QuantizeDir.
type QuantizeOptions struct {
	// DType is the target element type: DTypeInt8.
	DType string
	// Calibration are token id sequences of text like the text the model
	// will embed, as the directory's tokenizer encodes it (special tokens
	// included); Calibrate runs the float32 model on them to find the
	// outlier channels the int8 graph smooths. 256 sentences are plenty.
	Calibration [][]int64
	// CalibrationSource says in the manifest what the sequences were
	// ("sst2/train.tsv: first 256 rows, sha256 …").
	CalibrationSource string
	// ORTLib is the ONNX Runtime library calibration runs on ("" for
	// the usual search).
	ORTLib string
	// Fused writes the graph with ONNX Runtime's fused operators
	// (BuildOptions.Fused). With DType float32 it is the only change: a
	// fused float32 directory, which needs no calibration.
	Fused bool
}

// QuantizeDir writes dst, a complete model directory holding src's
// encoder rebuilt with opts (DType int8): model.onnx is the quantized
// graph, every other file of src (tokenizer, config.json, the float32
// model.safetensors, sentence-transformers files) is copied, and
// bertserve.json records the dtype and, as quantized_from, the sha256 of
// src's float32 model.onnx, which is what heads trained on src record.
//
// src must be a float32 model directory whose model.onnx this builder
// wrote from its model.safetensors: the float32 graph is rebuilt and its
// digest checked against src's manifest, so the int8 graph is known to
// come from exactly the weights of that digest. The calibration runs the
// float32 model in ONNX Runtime. Each file is written
// atomically and bertserve.json last, so dst has a manifest only once it
// is complete. dst may be src (quantize in place).
func QuantizeDir(src, dst string, opts QuantizeOptions) (*Manifest, error) {
	dt, err := ParseDType(opts.DType)
	if err != nil {
		return nil, err
	}
	if dt == DTypeFloat32 && !opts.Fused {
		return nil, fmt.Errorf("quantize needs a dtype other than float32 (int8), or fused operators")
	}
	if dt == DTypeInt8 && len(opts.Calibration) == 0 {
		return nil, fmt.Errorf("int8 quantization needs calibration text: a few hundred lines like the text the model will embed (--calibration FILE)")
	}
	m, err := ReadManifest(src)
	if err != nil {
		return nil, err
	}
	switch m.DType {
	case "", DTypeFloat32:
	case DTypeInt8:
		return nil, fmt.Errorf("%s is already an int8 model (quantized from float32 model %s); quantize its float32 source directory instead", src, shortSHA(m.QuantizedFrom))
	default:
		return nil, fmt.Errorf("%s holds a %s model; only float32 model directories can be quantized", src, m.DType)
	}
	if m.Fused {
		return nil, fmt.Errorf("%s has fused operators (rebuilt from float32 model %s); start from that plain float32 directory", src, shortSHA(m.FusedFrom))
	}
	if err := m.Verify(src); err != nil {
		return nil, err
	}
	cfgJSON, err := os.ReadFile(filepath.Join(src, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("%s has no %s, so its encoder cannot be rebuilt (a model bertserve did not build, such as use-lite, cannot be quantized): %w", src, ConfigFile, err)
	}
	cfg, err := ParseConfig(cfgJSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(src, ConfigFile), err)
	}
	if !fileExists(filepath.Join(src, WeightsFile)) {
		return nil, fmt.Errorf("%s has no %s (the float32 weights quantization starts from); pull or import the model again", src, WeightsFile)
	}
	weights, err := ReadHFWeights(src)
	if err != nil {
		return nil, err
	}
	fp32, err := Build(cfg, weights)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := fp32.Model.WriteTo(h); err != nil {
		return nil, err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != m.SHA256 {
		return nil, fmt.Errorf("%s/model.onnx (sha256 %s) is not the graph this bertserve builds from its %s (%s, builder %q): rebuild the directory with `bertserve pull` or `bertserve import` before quantizing it",
			src, shortSHA(m.SHA256), WeightsFile, shortSHA(sum), m.Builder)
	}
	var cal map[string][]float32
	if dt == DTypeInt8 {
		if cal, err = Calibrate(cfg, weights, opts.Calibration, opts.ORTLib); err != nil {
			return nil, err
		}
	}
	built, err := BuildWith(cfg, weights, BuildOptions{DType: dt, Calibration: cal, Fused: opts.Fused})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	same := sameDir(src, dst)
	if same {
		// In place: take the manifest away first, so the directory is not
		// taken for complete while model.onnx is being replaced.
		if err := os.Remove(filepath.Join(dst, ManifestFile)); err != nil {
			return nil, err
		}
	}
	h.Reset()
	err = atomicfile.Write(filepath.Join(dst, ModelFile), func(w io.Writer) error {
		_, err := built.Model.WriteTo(io.MultiWriter(w, h))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", ModelFile, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	files := map[string]string{ModelFile: sum}
	names := make([]string, 0, len(m.Files))
	for name := range m.Files {
		if name != ModelFile {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		files[name] = m.Files[name]
		if same {
			continue
		}
		d := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			return nil, err
		}
		if err := copyFile(d, filepath.Join(src, filepath.FromSlash(name))); err != nil {
			return nil, err
		}
	}
	q := *m
	q.Files = files
	q.SHA256 = sum
	q.DType = dt
	q.Inputs, q.Outputs = built.Inputs, built.Outputs
	q.Builder = BuilderVersion
	if q.Description != "" {
		q.Description += "; "
	}
	what := "ONNX Runtime fused operators"
	if dt == DTypeInt8 {
		q.QuantizedFrom = m.SHA256
		q.Calibration = opts.CalibrationSource
		what = "int8 quantization (per-channel weights; activations per token, static for query/key/value)"
		if opts.Fused {
			what += " with ONNX Runtime fused operators"
		}
	}
	if opts.Fused {
		q.Fused, q.FusedFrom = true, m.SHA256
	}
	q.Description += what + " of float32 model " + shortSHA(m.SHA256)
	if err := WriteManifest(dst, &q); err != nil {
		return nil, err
	}
	return &q, nil
}

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	if s == "" {
		return "(unknown)"
	}
	return s
}
