package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models/safetensors"
)

// hfFolder writes a Hugging Face / sentence-transformers style folder for
// cfgName with random weights under prefix, as a single model.safetensors
// or split over shards with an index.
func hfFolder(t *testing.T, cfgName, prefix string, shards int, st bool) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cfgJSON, err := os.ReadFile(filepath.Join("testdata", "configs", cfgName))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "config.json"), string(cfgJSON))
	cfg, err := ParseConfig(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	w := RandomWeights(cfg, 11)
	want, err := BuildONNX(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(want)
	pw := withPrefix(w, prefix)
	if shards <= 1 {
		if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), pw, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
	} else {
		names := make([]string, 0, len(pw))
		for n := range pw {
			names = append(names, n)
		}
		sort.Strings(names)
		index := map[string]any{"metadata": map[string]any{"total_size": 0}}
		wm := map[string]string{}
		for s := 0; s < shards; s++ {
			file := "model-0000" + string(rune('1'+s)) + "-of-0000" + string(rune('0'+shards)) + ".safetensors"
			part := Weights{}
			for i := s; i < len(names); i += shards {
				part[names[i]] = pw[names[i]]
				wm[names[i]] = file
			}
			if err := safetensors.WriteFile(filepath.Join(dir, file), part, nil); err != nil {
				t.Fatal(err)
			}
		}
		index["weight_map"] = wm
		b, _ := json.Marshal(index)
		writeFile(t, filepath.Join(dir, WeightsFile+".index.json"), string(b))
	}
	writeFile(t, filepath.Join(dir, "tokenizer.json"), `{"version":"1.0"}`)
	writeFile(t, filepath.Join(dir, "vocab.txt"), "[PAD]\n[UNK]\n")
	writeFile(t, filepath.Join(dir, "tokenizer_config.json"), `{"model_max_length": 1000000000000000019884624838656}`)
	writeFile(t, filepath.Join(dir, "README.md"), "---\nlanguage: en\nlicense: apache-2.0\ntags:\n- x\n---\n# model\n")
	if st {
		writeFile(t, filepath.Join(dir, "modules.json"), `[
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
]`)
		writeFile(t, filepath.Join(dir, "1_Pooling", "config.json"), `{"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}`)
		writeFile(t, filepath.Join(dir, "sentence_bert_config.json"), `{"max_seq_length": 64, "do_lower_case": false}`)
	}
	return dir, hex.EncodeToString(sum[:])
}

func TestImportHF(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config, prefix string
		shards               int
		st                   bool
		pooling              string
		normalize            bool
		maxLen               int
	}{
		{"bert sentence-transformers", "tiny-bert.json", "", 1, true, "cls", true, 64},
		{"bert prefixed sharded", "tiny-bert.json", "bert.", 3, false, "mean", false, 512},
		{"roberta prefixed", "tiny-roberta.json", "roberta.", 1, false, "mean", false, 512},
		{"distilbert sharded st", "tiny-distilbert.json", "distilbert.", 2, true, "cls", true, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from, wantSHA := hfFolder(t, tc.config, tc.prefix, tc.shards, tc.st)
			out := filepath.Join(t.TempDir(), "model")
			m, err := ImportHF(from, out, ImportOptions{Name: "test/model"})
			if err != nil {
				t.Fatal(err)
			}
			// The same weights give the same graph, whatever their layout on disk.
			if m.SHA256 != wantSHA {
				t.Errorf("imported model.onnx sha256 %s, direct build %s", m.SHA256, wantSHA)
			}
			if err := m.Verify(out); err != nil {
				t.Fatal(err)
			}
			if m.Pooling != tc.pooling || m.Normalize != tc.normalize || m.MaxLength != tc.maxLen {
				t.Errorf("pooling %s normalize %v max_length %d, want %s %v %d", m.Pooling, m.Normalize, m.MaxLength, tc.pooling, tc.normalize, tc.maxLen)
			}
			if m.License != "apache-2.0" || m.Name != "test/model" || !strings.HasPrefix(m.Source, "dir:/") || m.Tokenizer != TokenizerJSONFile {
				t.Errorf("manifest %+v", m)
			}
			files := []string{ModelFile, ConfigFile, TokenizerJSONFile, VocabFile, "tokenizer_config.json", "README.md", ManifestFile}
			if tc.st {
				files = append(files, "modules.json", "1_Pooling/config.json", "sentence_bert_config.json")
			}
			for _, f := range files {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("model directory lacks %s", f)
				}
			}
			if _, err := os.Stat(filepath.Join(out, WeightsFile+".index.json")); err == nil {
				t.Error("the shard index was copied into the model directory")
			}
			// The weights are kept in one model.safetensors: the original
			// file when there was one, else the shards merged.
			got, err := ReadHFWeights(out)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ReadHFWeights(from)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Error("model.safetensors in the model directory differs from the imported weights")
			}
			if m.Files[WeightsFile] == "" || m.Files[ConfigFile] == "" || m.Files["README.md"] == "" {
				t.Errorf("manifest files %v lack the weights, config or README", m.Files)
			}
		})
	}
}

func TestImportHFErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(t *testing.T, dir string)
		opts  ImportOptions
		want  string
		extra bool
	}{
		{"pickle only", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, WeightsFile))
			writeFile(t, filepath.Join(dir, "pytorch_model.bin"), "PK")
		}, ImportOptions{}, "reads only safetensors", false},
		{"no weights", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, WeightsFile)) }, ImportOptions{}, "no model.safetensors", false},
		{"no config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ConfigFile)) }, ImportOptions{}, "has a config.json", false},
		{"no tokenizer", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, TokenizerJSONFile))
			os.Remove(filepath.Join(dir, VocabFile))
		}, ImportOptions{}, "no tokenizer.json or vocab.txt", false},
		{"index escapes", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, WeightsFile))
			writeFile(t, filepath.Join(dir, WeightsFile+".index.json"), `{"weight_map":{"a":"../x.safetensors"}}`)
		}, ImportOptions{}, "not a .safetensors file in the folder", false},
		{"index lies", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, WeightsFile), filepath.Join(dir, "model-00001-of-00001.safetensors"))
			writeFile(t, filepath.Join(dir, WeightsFile+".index.json"), `{"weight_map":{"nope":"model-00001-of-00001.safetensors"}}`)
		}, ImportOptions{}, `says "nope" is in model-00001-of-00001.safetensors`, false},
		{"dense module", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "modules.json"), `[{"path":"","type":"sentence_transformers.models.Transformer"},{"path":"2_Dense","type":"sentence_transformers.models.Dense"}]`)
		}, ImportOptions{}, "sentence_transformers.models.Dense, which bertserve does not apply", false},
		{"dense module ignored", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "modules.json"), `[{"path":"","type":"sentence_transformers.models.Transformer"},{"path":"2_Dense","type":"sentence_transformers.models.Dense"}]`)
		}, ImportOptions{IgnoreExtraModules: true}, "", false},
		{"bad module path", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "modules.json"), `[{"path":"../../etc","type":"sentence_transformers.models.Transformer"}]`)
		}, ImportOptions{}, "clean relative path", false},
		{"unknown architecture", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, ConfigFile), `{"model_type":"t5"}`)
		}, ImportOptions{}, `model_type "t5"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from, _ := hfFolder(t, "tiny-bert.json", "bert.", 1, false)
			tc.edit(t, from)
			_, err := ImportHF(from, filepath.Join(t.TempDir(), "m"), tc.opts)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestReadmeLicense(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for content, want := range map[string]string{
		"---\nlicense: \"mit\"\n---\n":     "mit",
		"# no front matter\nlicense: x\n":  "",
		"---\ntags: []\n---\nlicense: x\n": "",
	} {
		p := writeFile(t, filepath.Join(dir, "README.md"), content)
		if got := readmeLicense(p); got != want {
			t.Errorf("%q: license %q, want %q", content, got, want)
		}
	}
}

// A bertserve model directory is a Hugging Face folder too; importing it
// again keeps the pooling, normalization and max length its bertserve.json
// records (a pulled bge-small-zh: CLS + L2), where it used to fall back to
// mean pooling without normalization.
func TestImportHFKeepsABertserveDirsPooling(t *testing.T) {
	t.Parallel()
	from, _ := hfFolder(t, "tiny-bert.json", "", 1, false)
	first := filepath.Join(t.TempDir(), "first")
	m1, err := ImportHF(from, first, ImportOptions{Pooling: "cls", MaxLength: 100})
	if err != nil {
		t.Fatal(err)
	}
	if m1.Pooling != "cls" || m1.MaxLength != 100 {
		t.Fatalf("first import: pooling %s max length %d", m1.Pooling, m1.MaxLength)
	}
	m2, err := ImportHF(first, filepath.Join(t.TempDir(), "second"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Pooling != m1.Pooling || m2.Normalize != m1.Normalize || m2.MaxLength != m1.MaxLength {
		t.Errorf("re-import: pooling %s normalize %v max length %d, want %s %v %d", m2.Pooling, m2.Normalize, m2.MaxLength, m1.Pooling, m1.Normalize, m1.MaxLength)
	}
	// A flag still wins.
	m3, err := ImportHF(first, filepath.Join(t.TempDir(), "third"), ImportOptions{Pooling: "mean"})
	if err != nil {
		t.Fatal(err)
	}
	if m3.Pooling != "mean" {
		t.Errorf("--pooling mean gave %s", m3.Pooling)
	}
	// A broken bertserve.json is an error, not silently ignored.
	if err := os.WriteFile(filepath.Join(first, ManifestFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ImportHF(first, filepath.Join(t.TempDir(), "fourth"), ImportOptions{}); err == nil || !strings.Contains(err.Error(), ManifestFile) {
		t.Errorf("a broken %s: %v", ManifestFile, err)
	}
}
