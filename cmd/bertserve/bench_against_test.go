package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bench --against measures other models (a directory, a bare .onnx file)
// in the same rounds and prints their ratios to --model's floor; bad
// --against paths are errors.
func TestBenchAgainst(t *testing.T) {
	model := cliModel(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "train.tsv")
	writeSentiment(t, data, 10)
	int8Dir := filepath.Join(tmp, "int8")
	if _, err := captureStdout(t, func() error {
		return cmdQuantize([]string{"--model", model, "--out", int8Dir, "--calibration", data})
	}); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(tmp, "bare.onnx")
	b, err := os.ReadFile(filepath.Join(int8Dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bare, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := captureStdout(t, func() error {
		return cmdBench([]string{"--model", model, "--input", data, "--n", "8", "--rounds", "1", "--threads", "1",
			"--against", int8Dir, "--against", bare})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "side by side") || strings.Count(out, "  ratio ") != 2 || !strings.Contains(out, bare) {
		t.Errorf("bench output lacks the side-by-side ratios:\n%s", out)
	}
	for _, bad := range []string{filepath.Join(tmp, "nope"), data} {
		if _, err := captureStdout(t, func() error {
			return cmdBench([]string{"--model", model, "--input", data, "--n", "4", "--rounds", "1", "--against", bad})
		}); err == nil || !strings.Contains(err.Error(), "--against") {
			t.Errorf("--against %s: %v", bad, err)
		}
	}
}
