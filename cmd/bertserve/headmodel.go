package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/models"
)

// resolveHeadModel finds the model directory of the encoder a head was
// trained on, for predict and eval without --model: a model directory
// under $BERTSERVE_CACHE/models (the default model, or one pulled by name)
// whose model.onnx has the head's recorded digest, else the directory the
// head recorded if it still holds that digest. Otherwise the error names
// the digest and what to run.
func resolveHeadModel(e head.EncoderInfo) (string, error) {
	if e.Digest == "" {
		return "", usagef("the head does not record its encoder (it was trained on embeddings from elsewhere): pass --model DIR, or --embeddings X.npy")
	}
	root := filepath.Join(encoder.CacheDir(), "models")
	entries, _ := os.ReadDir(root)
	names := make([]string, 0, len(entries))
	for _, en := range entries {
		if en.IsDir() && !strings.HasPrefix(en.Name(), ".") {
			names = append(names, en.Name())
		}
	}
	// The default model first: it is the one most heads are trained on.
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "default":
			return -1
		case b == "default":
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, n := range names {
		dir := filepath.Join(root, n)
		m, err := models.ReadManifest(dir)
		if err != nil || m.SHA256 != e.Digest {
			continue
		}
		if sum, err := models.FileSHA256(filepath.Join(dir, models.ModelFile)); err == nil && sum == e.Digest {
			return dir, nil
		}
	}
	if e.Path != "" {
		if sum, err := models.FileSHA256(filepath.Join(e.Path, models.ModelFile)); err == nil && sum == e.Digest {
			return e.Path, nil
		}
	}
	where := root
	if e.Path != "" {
		where += " nor at " + e.Path
	}
	return "", fmt.Errorf("the head was trained on encoder %q (model.onnx sha256 %s), which is neither in %s; %s, or pass --model DIR",
		e.Name, shortHex(e.Digest), where, pullHint(e.Source))
}

// acceptEncoder checks that enc can feed the head m (see
// head.Model.AcceptEncoder) and prints the note when it is a quantized
// variant of the head's encoder.
func acceptEncoder(cmd string, m *head.Model, info encoder.Info, force bool) error {
	note, err := m.AcceptEncoder(info.Digest, info.QuantizedFrom, info.Dim, force)
	if note != "" {
		fmt.Fprintf(os.Stderr, "%s: note: %s\n", cmd, note)
	}
	return err
}

// pullHint says how to get an encoder back from its manifest source.
func pullHint(source string) string {
	if rest, ok := strings.CutPrefix(source, "hf:"); ok {
		repo, rev, _ := strings.Cut(rest, "@")
		if rev != "" && rev != "main" {
			return fmt.Sprintf("run `bertserve pull %s --revision %s`", repo, rev)
		}
		return fmt.Sprintf("run `bertserve pull %s`", repo)
	}
	if source != "" {
		return fmt.Sprintf("get the model it came from (%s) back, e.g. `bertserve pull default` if it was the default model", source)
	}
	return "run `bertserve pull default` if it was the default model, or `bertserve pull ORG/NAME` for a hub model"
}

func shortHex(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// headEncoderInfo is what a head records about the encoder it was trained
// on: the encoder's own description plus where the model directory was and
// where it came from, so predict and eval can find it again.
func headEncoderInfo(i encoder.Info, modelDir string) head.EncoderInfo {
	e := head.EncoderInfo{Name: i.Name, Digest: i.Digest, Pooling: i.Pooling, Normalize: i.Normalize, MaxLength: i.MaxLength, QuantizedFrom: i.QuantizedFrom}
	if abs, err := filepath.Abs(modelDir); err == nil {
		e.Path = abs
	}
	if m, err := models.ReadManifest(modelDir); err == nil {
		e.Source = m.Source
	}
	return e
}
