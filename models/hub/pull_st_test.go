package hub

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// importSpy is an Options.Import that records what the importer was
// given and produces a model directory from it.
type importSpy struct {
	from  string
	files []string
	fail  error
}

func (s *importSpy) run(from, out string) error {
	s.from = from
	s.files = nil
	if err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(from, p)
			s.files = append(s.files, filepath.ToSlash(rel))
		}
		return err
	}); err != nil {
		return err
	}
	if s.fail != nil {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		os.WriteFile(filepath.Join(out, "model.onnx"), []byte("half"), 0o644)
		return s.fail
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "model.onnx"), []byte("converted"), 0o644)
}

func TestPullSafetensorsDownloadsWhatTheImporterNeeds(t *testing.T) {
	t.Parallel()
	_, w := tinyBERT(t, 1)
	tests := []struct {
		name  string
		files map[string][]byte
		want  []string
	}{
		{"single file", bertRepoFiles(t, w), []string{"config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"}},
		{"sharded", shardedRepoFiles(t, w, 2), []string{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer_config.json", "vocab.txt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t)
			h.add("acme/tiny-bert", tc.files)
			spy := &importSpy{}
			parent := t.TempDir()
			opts := testOptions(h, filepath.Join(parent, "m"))
			opts.Import = spy.run
			dir, err := Pull(context.Background(), "acme/tiny-bert", opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(spy.files, tc.want) {
				t.Errorf("importer got %v, want %v", spy.files, tc.want)
			}
			for _, f := range []string{"pytorch_model.bin", "tf_model.h5", "README.md"} {
				if h.rangesOf(f) != nil {
					t.Errorf("Pull downloaded %s", f)
				}
			}
			if got := must(os.ReadFile(filepath.Join(dir, "model.onnx"))); !bytes.Equal(got, []byte("converted")) {
				t.Errorf("model.onnx = %q", got)
			}
			if names := entries(t, parent); !slices.Equal(names, []string{"m"}) {
				t.Errorf("parent holds %v, want only the model directory", names)
			}
		})
	}
}

func TestPullFailedImportLeavesNothing(t *testing.T) {
	t.Parallel()
	_, w := tinyBERT(t, 1)
	h := newFakeHub(t)
	h.add("acme/tiny-bert", bertRepoFiles(t, w))
	spy := &importSpy{fail: errors.New("unknown architecture")}
	parent := t.TempDir()
	opts := testOptions(h, filepath.Join(parent, "m"))
	opts.Import = spy.run
	if _, err := Pull(context.Background(), "acme/tiny-bert", opts); err == nil || !errors.Is(err, spy.fail) {
		t.Fatalf("err = %v, want the importer's error", err)
	}
	if names := entries(t, parent); len(names) != 0 {
		t.Errorf("a failed import left %v", names)
	}
}
