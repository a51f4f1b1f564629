package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models"
)

// `bertserve import --from model.onnx` recovers the weights of a torch
// export and writes a complete model directory.
func TestImportONNXCommand(t *testing.T) {
	src := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "..", "models", "testdata", "onnx", "tiny-bert-opset11.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	onnxPath := filepath.Join(src, "model.onnx")
	if err := os.WriteFile(onnxPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var vocab strings.Builder
	vocab.WriteString("[PAD]\n")
	for i := 1; i < 64; i++ {
		fmt.Fprintf(&vocab, "w%d\n", i)
	}
	if err := os.WriteFile(filepath.Join(src, "vocab.txt"), []byte(vocab.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m")
	if err := cmdImport([]string{"--from", onnxPath, "--out", out, "--pooling", "cls", "--normalize"}); err != nil {
		t.Fatal(err)
	}
	m, err := models.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(out); err != nil {
		t.Fatal(err)
	}
	if m.Pooling != "cls" || !m.Normalize || m.Dim != 16 || m.Files[models.WeightsFile] == "" {
		t.Errorf("manifest %+v", m)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", filepath.Join(src, "vocab.txt"), "--out", out}, "not an .onnx export"},
		{[]string{"--from", filepath.Join(src, "nope.onnx"), "--out", out}, "no such file"},
	} {
		if err := cmdImport(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("import %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestPullUsage(t *testing.T) {
	if err := cmdPull(nil); err == nil || !strings.Contains(err.Error(), "bge-small-zh") || !strings.Contains(err.Error(), "use-lite") {
		t.Errorf("pull without a name: %v", err)
	}
	if err := cmdPull([]string{"no-such-model"}); err == nil || !strings.Contains(err.Error(), `no model called "no-such-model"`) {
		t.Errorf("unknown name: %v", err)
	}
	if err := cmdPull([]string{"bge-small-zh", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("pull bge-small-zh -h: %v", err)
	}
}
