package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bertserve/bertserve/encoder"
)

// benchAgainst is a model whose ONNX Runtime floor bench measures side by
// side with --model's: a model directory, or a bare .onnx file run with
// --model's tokenizer and pooling.
type benchAgainst struct {
	label string
	enc   *encoder.Encoder
	prep  *encoder.Prepared
	runs  []time.Duration
}

// againstDir returns a model directory for path: path itself, or for an
// .onnx file a directory under tmp holding links to base's files with
// model.onnx replaced.
func againstDir(path, base, tmp string, i int) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("--against: %w", err)
	}
	if st.IsDir() {
		return path, nil
	}
	if !strings.HasSuffix(strings.ToLower(path), ".onnx") {
		return "", usagef("--against %s is neither a model directory nor an .onnx file", path)
	}
	dir := filepath.Join(tmp, fmt.Sprintf("against-%d", i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name() == "model.onnx" {
			continue
		}
		abs, err := filepath.Abs(filepath.Join(base, e.Name()))
		if err != nil {
			return "", err
		}
		if err := os.Symlink(abs, filepath.Join(dir, e.Name())); err != nil {
			return "", err
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return dir, os.Symlink(abs, filepath.Join(dir, "model.onnx"))
}

// openAgainst opens each --against model with the flags of --model and
// prepares the same texts (the same batches, as the tokenizer is --model's
// or the same one).
func openAgainst(paths []string, ef encoderFlags, texts []string, tmp string) ([]*benchAgainst, error) {
	var out []*benchAgainst
	for i, p := range paths {
		dir, err := againstDir(p, ef.model, tmp, i)
		if err != nil {
			closeAgainst(out)
			return nil, err
		}
		f := ef
		f.model = dir
		enc, err := f.open()
		if err != nil {
			closeAgainst(out)
			return nil, fmt.Errorf("--against %s: %w", p, err)
		}
		prep, err := enc.Prepare(texts)
		if err != nil {
			enc.Close()
			closeAgainst(out)
			return nil, err
		}
		out = append(out, &benchAgainst{label: p, enc: enc, prep: prep})
	}
	return out, nil
}

func closeAgainst(as []*benchAgainst) {
	for _, a := range as {
		a.prep.Destroy()
		a.enc.Close()
	}
}

// run measures one floor pass of a.
func (a *benchAgainst) run() error {
	t0 := time.Now()
	if err := a.enc.RunPrepared(a.prep); err != nil {
		return fmt.Errorf("--against %s: %w", a.label, err)
	}
	a.runs = append(a.runs, time.Since(t0))
	return nil
}

// printAgainst prints each --against model's floor and its ratio to
// --model's floor rate.
func printAgainst(w io.Writer, as []*benchAgainst, n int, baseRate float64) {
	if len(as) == 0 {
		return
	}
	fmt.Fprintln(w, "side by side, ORT floor (session.Run only), ratio against --model's floor (b):")
	for _, a := range as {
		rate := float64(n) / median(a.runs).Seconds()
		printRuns(w, "  "+a.label, a.runs, rate)
		fmt.Fprintf(w, "  %-34s ratio %.3f (%s)\n", "", rate/baseRate, a.enc.Info().Name)
	}
}
