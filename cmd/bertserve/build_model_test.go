package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models"
)

func testConfig(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "models", "testdata", "configs", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildModelAndImportCommands(t *testing.T) {
	cfg := testConfig(t, "tiny-bert.json")
	tmp := t.TempDir()
	tok := filepath.Join(tmp, "tokenizer.json")
	if err := os.WriteFile(tok, []byte(`{"version":"1.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	random := filepath.Join(tmp, "random")
	if err := cmdBuildModel([]string{"--config", cfg, "--random", "--seed", "3", "--tokenizer", tok, "--out", random, "--pooling", "cls", "--max-length", "128"}); err != nil {
		t.Fatal(err)
	}
	m, err := models.ReadManifest(random)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(random); err != nil {
		t.Fatal(err)
	}
	if m.Source != "random:seed=3" || m.Pooling != "cls" || m.MaxLength != 128 || m.Dim != 32 || m.Architecture != "bert" {
		t.Errorf("manifest %+v", m)
	}

	// The weights --random wrote, built through --weights, give the same model.
	fromWeights := filepath.Join(tmp, "weights")
	if err := cmdBuildModel([]string{"--config", cfg, "--weights", filepath.Join(random, models.WeightsFile), "--tokenizer", tok, "--out", fromWeights}); err != nil {
		t.Fatal(err)
	}
	m2, err := models.ReadManifest(fromWeights)
	if err != nil {
		t.Fatal(err)
	}
	if m2.SHA256 != m.SHA256 || !strings.HasPrefix(m2.Source, "weights:/") || m2.Pooling != "mean" || m2.MaxLength != 512 {
		t.Errorf("--weights build: %+v (random build sha %s)", m2, m.SHA256)
	}

	// And so does importing them as a Hugging Face folder.
	hf := filepath.Join(tmp, "hf")
	if err := os.MkdirAll(hf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ src, dst string }{
		{cfg, "config.json"}, {filepath.Join(random, models.WeightsFile), models.WeightsFile}, {tok, "tokenizer.json"},
	} {
		data, err := os.ReadFile(f.src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(hf, f.dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	imported := filepath.Join(tmp, "imported")
	if err := cmdImport([]string{"--from", hf, "--out", imported, "--license", "mit"}); err != nil {
		t.Fatal(err)
	}
	m3, err := models.ReadManifest(imported)
	if err != nil {
		t.Fatal(err)
	}
	if m3.SHA256 != m.SHA256 || m3.License != "mit" || m3.Name != "hf" {
		t.Errorf("import: %+v", m3)
	}
}

func TestBuildModelAndImportUsage(t *testing.T) {
	cfg := testConfig(t, "tiny-bert.json")
	tests := []struct {
		name string
		run  func([]string) error
		args []string
		want string // "" means flag.ErrHelp
	}{
		{"build help", cmdBuildModel, []string{"-h"}, ""},
		{"import help", cmdImport, []string{"-h"}, ""},
		{"build no config", cmdBuildModel, []string{"--random", "--out", "x", "--tokenizer", "t.json"}, "--config is required"},
		{"build both sources", cmdBuildModel, []string{"--config", cfg, "--random", "--weights", "w", "--out", "x", "--tokenizer", "t.json"}, "exactly one of --weights FILE and --random"},
		{"build no source", cmdBuildModel, []string{"--config", cfg, "--out", "x", "--tokenizer", "t.json"}, "exactly one of"},
		{"build no tokenizer", cmdBuildModel, []string{"--config", cfg, "--random", "--out", "x"}, "--tokenizer is required"},
		{"build stray arg", cmdBuildModel, []string{"--config", cfg, "extra"}, "unexpected arguments"},
		{"import no from", cmdImport, []string{"--out", "x"}, "--from is required"},
		{"import no out", cmdImport, []string{"--from", "x"}, "--out is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(tc.args)
			if tc.want == "" {
				if !errors.Is(err, flag.ErrHelp) {
					t.Fatalf("err = %v, want flag.ErrHelp", err)
				}
				return
			}
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (%T), want a usage error containing %q", err, err, tc.want)
			}
		})
	}
	if _, ok := commands["build-model"]; !ok {
		t.Error("build-model is not registered")
	}
	if _, ok := commands["import"]; !ok {
		t.Error("import is not registered")
	}
}
