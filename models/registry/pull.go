package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
)

// Options configure Pull.
type Options struct {
	Clients
	// Log receives one line per step; nil is silent.
	Log func(string)
	// ORTLib is the ONNX Runtime library for the check of ONNX packages
	// ("" searches as the encoder does).
	ORTLib string
	// RequireCheck makes a missing ONNX Runtime an error instead of a
	// skipped check.
	RequireCheck bool
}

// Thresholds the rebuilt graph must meet against the package's own
// export.
const (
	maxCheckDiff   = 1e-3
	minCheckCosine = 0.9999
)

// DefaultDir is where `bertserve pull NAME` puts a model:
// encoder.CacheDir()/models/NAME ("default" stays "default").
func DefaultDir(name string) string {
	return filepath.Join(encoder.CacheDir(), "models", name)
}

// CheckDir reports whether dir already holds m as this bertserve would
// make it: same source package, same graph builder, every file intact.
func CheckDir(dir string, m Model) (*models.Manifest, error) {
	man, err := models.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if man.Source != m.Source() {
		return nil, fmt.Errorf("%s holds %s (source %s), not %s", dir, man.Name, man.Source, m.Source())
	}
	if man.Builder != models.BuilderVersion {
		return nil, fmt.Errorf("%s was built by %q; this bertserve builds with %q", dir, man.Builder, models.BuilderVersion)
	}
	if err := man.Verify(dir); err != nil {
		return nil, err
	}
	return man, nil
}

// Pull makes dir ("" means DefaultDir(name)) the model directory of the
// catalog model name, fetching its package first when the cache lacks
// it. A directory that CheckDir accepts is left alone. The new directory
// is assembled beside dir and renamed into place, so dir holds either its
// previous content or the complete model.
func Pull(ctx context.Context, name, dir string, opts Options) (*models.Manifest, error) {
	m, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		dir = DefaultDir(name)
	}
	return pullModel(ctx, m, dir, opts)
}

func pullModel(ctx context.Context, m Model, dir string, opts Options) (*models.Manifest, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string) {}
	}
	if m.Format == PackageOnly {
		return nil, fmt.Errorf("%s is %s; `bertserve pull %s --package-only` keeps it in the cache for benchmarks", m.Name, m.Description, m.Name)
	}
	dir = filepath.Clean(dir)
	if man, err := CheckDir(dir, m); err == nil {
		logf(fmt.Sprintf("%s already at %s (%s, all %d files intact)", m.Name, dir, m.Source(), len(man.Files)))
		return man, nil
	}
	start := time.Now()
	archive, err := opts.Fetch(ctx, m, logf)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("creating a staging folder beside %s: %w", dir, err)
	}
	defer os.RemoveAll(stage)
	out := filepath.Join(stage, "model")
	man, err := convert(ctx, m, archive, filepath.Join(stage, "package"), out, opts, logf)
	if err != nil {
		return nil, fmt.Errorf("converting %s %s: %w", m.Package.Registry, m.Package.Spec(), err)
	}
	if err := os.Chmod(out, 0o755); err != nil {
		return nil, err
	}
	if err := replaceDir(dir, out, stage, logf); err != nil {
		return nil, err
	}
	logf(fmt.Sprintf("%s ready at %s in %.1fs: model.onnx (sha256 %s…), model.safetensors, config.json, %s, bertserve.json; %d-d, pooling %s, normalize %v, max %d tokens, license %s",
		m.Name, dir, time.Since(start).Seconds(), man.SHA256[:12], man.Tokenizer, man.Dim, man.Pooling, man.Normalize, man.MaxLength, man.License))
	return man, nil
}

// convert unpacks the pinned entries and makes the model directory out.
func convert(ctx context.Context, m Model, archive, unpack, out string, opts Options, logf func(string)) (*models.Manifest, error) {
	entries := m.Package.Entries
	files, err := extract(archive, entries, m.Prefix, unpack)
	if err != nil {
		return nil, err
	}
	logf(fmt.Sprintf("unpacked %d files from %s (sha256 of each checked)", len(files), m.Package.File))
	pkg := []models.Package{m.manifestPackage(entries)}
	switch m.Format {
	case HFFolder:
		return models.ImportHF(unpack, out, models.ImportOptions{
			Name: m.Name, Source: m.Source(), License: m.License, Description: m.Description,
			Pooling: m.Pooling, MaxLength: m.MaxLength, Packages: pkg,
		})
	case ONNXExport:
		src := files[m.ONNX]
		man, rec, err := models.ImportONNX(src, out, models.ONNXImportOptions{
			Name: m.Name, Source: m.Source(), License: m.License, Description: m.Description,
			Tokenizer: files[m.Tokenizer], Pooling: m.Pooling, Normalize: m.Normalize, MaxLength: m.MaxLength,
			Packages: pkg,
		})
		if err != nil {
			return nil, err
		}
		c := rec.Config
		logf(fmt.Sprintf("recovered the weights from %s: %d layers, hidden %d, %d heads, intermediate %d, vocab %d, %s; model.onnx rebuilt from them", m.ONNX, c.NumLayers, c.HiddenSize, c.NumHeads, c.IntermediateSize, c.VocabSize, c.HiddenAct))
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := checkRebuilt(src, out, c.VocabSize, c.MaxPositions, opts, logf); err != nil {
			return nil, err
		}
		return man, nil
	}
	return nil, fmt.Errorf("model %s has no conversion", m.Name)
}

// checkRebuilt compares the rebuilt graph with the package's export.
func checkRebuilt(original, dir string, vocab, maxLen int, opts Options, logf func(string)) error {
	a, err := os.ReadFile(original)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(dir, models.ModelFile))
	if err != nil {
		return err
	}
	c, err := Compare(a, b, CompareSeqs(vocab, maxLen), opts.ORTLib)
	if errors.Is(err, encoder.ErrNoRuntime) && !opts.RequireCheck {
		logf("ONNX Runtime not found: skipped comparing the rebuilt graph with the package's own (run `make setup`)")
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the rebuilt graph against the package's export: %w", err)
	}
	if c.MaxAbsDiff > maxCheckDiff || c.MinCosine < minCheckCosine {
		return fmt.Errorf("the rebuilt graph does not reproduce the package's export: %s (want max |Δ| ≤ %g, cosine ≥ %g); please report this", c, maxCheckDiff, minCheckCosine)
	}
	logf("checked against the package's own ONNX graph in ONNX Runtime: " + c.String())
	return nil
}

// replaceDir moves the finished directory src to dst. What was at dst is
// moved aside first and removed after; the previous USE-lite default
// model is kept as models/use-lite when that does not exist yet.
func replaceDir(dst, src, stage string, logf func(string)) error {
	if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(src, dst)
	}
	if name, source := manifestName(dst); name != "" {
		if strings.HasPrefix(source, "npm:") && filepath.Base(dst) == "default" {
			keep := filepath.Join(filepath.Dir(dst), "use-lite")
			if _, err := os.Stat(keep); errors.Is(err, fs.ErrNotExist) {
				if err := os.Rename(dst, keep); err == nil {
					logf(fmt.Sprintf("moved the previous default model (%s) to %s; `bertserve pull use-lite` manages it from now on", name, keep))
					return os.Rename(src, dst)
				}
			}
		}
		logf(fmt.Sprintf("replacing %s (%s) at %s", name, source, dst))
	}
	old := filepath.Join(stage, "previous")
	if err := os.Rename(dst, old); err != nil {
		return fmt.Errorf("moving the previous %s aside: %w", dst, err)
	}
	if err := os.Rename(src, dst); err != nil {
		os.Rename(old, dst)
		return fmt.Errorf("moving the new model into %s: %w", dst, err)
	}
	return nil
}

// manifestName reads the name and source of any bertserve.json (the
// USE-lite manifest has its own layout).
func manifestName(dir string) (string, string) {
	b, err := os.ReadFile(filepath.Join(dir, models.ManifestFile))
	if err != nil {
		return "", ""
	}
	var m struct {
		Name   string `json:"name"`
		Source string `json:"source"`
	}
	if json.Unmarshal(b, &m) != nil {
		return "", ""
	}
	return m.Name, m.Source
}

// FetchPackage fetches a model's package into the cache without
// converting it and returns the archive's path (`pull --package-only`).
func FetchPackage(ctx context.Context, name string, opts Options) (string, error) {
	m, err := Lookup(name)
	if err != nil {
		return "", err
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string) {}
	}
	return opts.Fetch(ctx, m, logf)
}
