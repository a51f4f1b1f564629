package models

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models/safetensors"
)

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWriteModelDir(t *testing.T) {
	t.Parallel()
	cfg := loadTestConfig(t, "tiny-distilbert.json")
	src := t.TempDir()
	tok := writeFile(t, filepath.Join(src, "my-tokenizer.json"), `{"model":{}}`)
	pool := writeFile(t, filepath.Join(src, "pool.json"), `{"pooling_mode_cls_token": true}`)
	dir := filepath.Join(t.TempDir(), "out")
	m, err := WriteModelDir(dir, DirSpec{
		Config: cfg, Weights: RandomWeights(cfg, 1), Tokenizer: tok,
		Files:  map[string]string{"1_Pooling/config.json": pool},
		Source: "random:seed=1", License: "apache-2.0", Pooling: "cls", MaxLength: 128,
	})
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, f := range []string{ModelFile, WeightsFile, TokenizerJSONFile, ConfigFile, "1_Pooling/config.json"} {
		sum, err := FileSHA256(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		sums[f] = sum
	}
	want := &Manifest{
		Format: ManifestFormat, Name: "out", Source: "random:seed=1", License: "apache-2.0",
		Architecture: "distilbert", SHA256: m.SHA256, Dim: 32, Pooling: "cls", MaxLength: 128,
		Tokenizer: "tokenizer.json", Inputs: []string{InputIDs, InputMask}, Outputs: []string{OutputHidden},
		DType: "float32", Builder: BuilderVersion, Files: sums,
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("manifest\n%+v\nwant\n%+v", m, want)
	}
	read, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(read, m) {
		t.Errorf("read back %+v", read)
	}
	if err := read.Verify(dir); err != nil {
		t.Fatal(err)
	}
	// The weights the graph was built from are kept, under their names.
	st, err := safetensors.ReadFile(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.Tensors, RandomWeights(cfg, 1)) {
		t.Error("model.safetensors does not hold the weights the directory was built from")
	}
	// A changed file is caught by Verify, naming it.
	writeFile(t, filepath.Join(dir, "1_Pooling", "config.json"), `{"pooling_mode_mean_tokens": true}`)
	if err := read.Verify(dir); err == nil || !strings.Contains(err.Error(), "config.json has sha256") {
		t.Errorf("Verify after editing 1_Pooling/config.json: %v", err)
	}
	writeFile(t, filepath.Join(dir, "1_Pooling", "config.json"), `{"pooling_mode_cls_token": true}`)
	for _, f := range []string{ModelFile, TokenizerJSONFile, ConfigFile, "1_Pooling/config.json", ManifestFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	// config.json written from the Config parses back to it.
	back, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil || back.HiddenSize != 32 || back.ModelType != "distilbert" {
		t.Errorf("config.json: %+v %v", back, err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
	// Tampering is detected.
	if err := os.WriteFile(filepath.Join(dir, ModelFile), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := read.Verify(dir); err == nil || !strings.Contains(err.Error(), "changed or damaged") {
		t.Errorf("Verify after tampering: %v", err)
	}
}

func TestWriteModelDirErrors(t *testing.T) {
	t.Parallel()
	roberta := loadTestConfig(t, "tiny-roberta.json")
	tok := writeFile(t, filepath.Join(t.TempDir(), "tokenizer.json"), "{}")
	noPooler := RandomWeightsWith(roberta, RandomOptions{Seed: 1})
	tests := []struct {
		name string
		spec DirSpec
		want string
	}{
		{"no config", DirSpec{Tokenizer: tok}, "no Config"},
		{"no tokenizer", DirSpec{Config: roberta, Weights: noPooler}, "no tokenizer given"},
		{"odd tokenizer", DirSpec{Config: roberta, Weights: noPooler, Tokenizer: "spm.model"}, "neither a tokenizer.json nor a vocab.txt"},
		{"pooler missing", DirSpec{Config: roberta, Weights: noPooler, Tokenizer: tok, Pooling: "pooler"}, `pooling "pooler" needs pooler.dense weights`},
		{"bad pooling", DirSpec{Config: roberta, Weights: noPooler, Tokenizer: tok, Pooling: "first"}, `pooling "first" is not one of`},
		{"too long", DirSpec{Config: roberta, Weights: noPooler, Tokenizer: tok, MaxLength: 513}, "max length 513 exceeds the 512 positions"},
		{"escaping file", DirSpec{Config: roberta, Weights: noPooler, Tokenizer: tok, Files: map[string]string{"../x": tok}}, "clean relative path"},
		{"missing tokenizer file", DirSpec{Config: roberta, Weights: noPooler, Tokenizer: filepath.Join(t.TempDir(), "vocab.txt")}, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := WriteModelDir(filepath.Join(t.TempDir(), "m"), tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseManifest(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("ab", 32)
	tests := []struct {
		json, err string
	}{
		{`{"sha256":"` + sha + `","pooling":"mean","dim":384,"max_length":256,"tokenizer":"tokenizer.json"}`, ""},
		// What models/hub wrote before it used WriteManifest: still readable.
		{`{"name":"x/y","source":"hf:x/y","sha256":"` + sha + `","license":"mit"}`, ""},
		{`{"sha256":"abc"}`, "not a hex SHA-256"},
		{`{"sha256":"` + sha + `","pooling":"first"}`, `pooling "first"`},
		{`{"sha256":"` + sha + `","format":99}`, "newer than this bertserve"},
		{`{"sha256":"` + sha + `","tokenizer":"../t.json"}`, "must be a file name"},
		{`{"sha256":"` + sha + `","dim":-1}`, "dim -1"},
		{`[`, "not valid JSON"},
	}
	for _, tc := range tests {
		_, err := ParseManifest([]byte(tc.json))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err = %v, want %q", tc.json, err, tc.err)
		}
	}
	if _, err := ReadManifest(t.TempDir()); err == nil || !strings.Contains(err.Error(), "bertserve build-model") {
		t.Errorf("ReadManifest of an empty dir: %v", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format":1,"sha256":"` + strings.Repeat("0", 64) + `","pooling":"cls","tokenizer":"vocab.txt"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		if m.Validate() != nil {
			t.Fatal("accepted manifest fails Validate")
		}
	})
}
