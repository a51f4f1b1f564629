package head

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bertserve/bertserve/models/safetensors"
)

func trained(t *testing.T, cfg TrainConfig) (*Model, *Dataset) {
	t.Helper()
	train, val := splitHalf(blobs(300, 10, 3, 3, 11))
	m, _, err := Train(context.Background(), train, val, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, val
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	mlp := quick(HeadMLP)
	mlp.Hidden = []int{16, 8}
	for name, cfg := range map[string]TrainConfig{"softmax": quick(HeadSoftmax), "mlp 2 layers": mlp} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, val := trained(t, cfg)
			m.SetEncoder(EncoderInfo{Name: "use-lite", Digest: "sha256:abc", Pooling: "mean", Normalize: true, MaxLength: 128})
			dir := filepath.Join(t.TempDir(), "heads", "sst2")
			if err := Save(dir, m); err != nil {
				t.Fatal(err)
			}
			got, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := m.PredictProba(val.X)
			b, _ := got.PredictProba(val.X)
			for i := range a {
				for c := range a[i] {
					if a[i][c] != b[i][c] {
						t.Fatalf("row %d class %d: %v before save, %v after load", i, c, a[i][c], b[i][c])
					}
				}
			}
			meta := got.Meta()
			if meta.Encoder.Digest != "sha256:abc" || meta.Training == nil || meta.Curves == nil || meta.Metrics["validation"] == nil || meta.Result == nil {
				t.Fatalf("head.json lost fields: %+v", meta)
			}
			if got.Dim() != 10 || len(got.Labels()) != 3 {
				t.Fatalf("dim %d labels %v", got.Dim(), got.Labels())
			}
			entries, _ := os.ReadDir(filepath.Dir(dir))
			if len(entries) != 1 {
				t.Fatalf("temporary directories left behind: %v", entries)
			}
			// Saving again replaces the head in place.
			if err := Save(dir, got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSaveRefusesForeignDirectory(t *testing.T) {
	t.Parallel()
	m, _ := trained(t, quick(HeadSoftmax))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	if err := Save(dir, m); err == nil || !strings.Contains(err.Error(), "not a head directory") {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
		t.Fatal("the foreign file was touched")
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	m, _ := trained(t, quick(HeadMLP))
	dir := filepath.Join(t.TempDir(), "h")
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	meta, _ := os.ReadFile(filepath.Join(dir, MetaFile))
	st, _ := os.ReadFile(filepath.Join(dir, TensorsFile))
	edit := func(f func(map[string]any)) []byte {
		var v map[string]any
		json.Unmarshal(meta, &v)
		f(v)
		b, _ := json.Marshal(v)
		return b
	}
	wrongShape := func() []byte {
		var b bytes.Buffer
		safetensors.Write(&b, map[string]safetensors.Tensor{"out.weight": {Shape: []int{3, 5}, Data: make([]float32, 15)}}, nil)
		return b.Bytes()
	}
	tests := []struct {
		name     string
		meta, st []byte
		want     string
	}{
		{"not json", []byte("{"), st, "not valid JSON"},
		{"other format", edit(func(v map[string]any) { v["format"] = "x" }), st, "is this a bertserve head"},
		{"future version", edit(func(v map[string]any) { v["version"] = 9 }), st, "upgrade bertserve"},
		{"one label", edit(func(v map[string]any) { v["labels"] = []string{"a"} }), st, "at least two"},
		{"dim mismatch", edit(func(v map[string]any) { v["dim"] = 11 }), st, "has shape"},
		{"tensors missing", meta, wrongShape(), `lacks tensor "hidden.0.bias"`},
		{"not safetensors", meta, []byte("garbage"), "safetensors"},
	}
	for _, tc := range tests {
		if _, err := decode(tc.meta, bytes.NewReader(tc.st)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a head directory") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestCheckEncoder(t *testing.T) {
	t.Parallel()
	m, _ := trained(t, quick(HeadSoftmax))
	m.SetEncoder(EncoderInfo{Name: "use-lite", Digest: "sha256:aaaa"})
	tests := []struct {
		digest string
		dim    int
		force  bool
		want   string // "" for success
	}{
		{"sha256:aaaa", 10, false, ""},
		{"sha256:bbbb", 10, false, "trained on encoder use-lite (sha256:aaaa) but this encoder is sha256:bbbb"},
		{"sha256:bbbb", 10, true, ""},
		{"sha256:aaaa", 768, false, "768-dim embeddings, but the head expects 10"},
		{"sha256:bbbb", 768, true, "768-dim"},
	}
	for _, tc := range tests {
		err := m.CheckEncoder(tc.digest, tc.dim, tc.force)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckEncoder(%s, %d, %v) = %v, want %q", tc.digest, tc.dim, tc.force, err, tc.want)
		}
	}
	anon, _ := trained(t, quick(HeadSoftmax))
	if err := anon.CheckEncoder("sha256:x", 10, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("head without digest: %v", err)
	}
}

// A head meets the int8 and float32 variants of its encoder: accepted
// with a note when both come from the same float32 weights, refused
// otherwise.
func TestAcceptEncoderVariants(t *testing.T) {
	t.Parallel()
	fp32 := EncoderInfo{Name: "minilm", Digest: "f32a"}
	int8 := EncoderInfo{Name: "minilm", Digest: "i8a", QuantizedFrom: "f32a"}
	tests := []struct {
		name         string
		head         EncoderInfo
		digest, from string
		want, note   string // want "" for success
		force        bool
	}{
		{"same float32", fp32, "f32a", "", "", "", false},
		{"int8 of the head's float32", fp32, "i8a", "f32a", "", "its int8 (or fused) variant", false},
		{"float32 source of the head's int8", int8, "f32a", "", "", "its float32 variant", false},
		{"another int8 of the same float32", int8, "i8b", "f32a", "", "int8 (or fused) variant", false},
		{"int8 of another model", fp32, "i8c", "f32c", "trained on encoder minilm (f32a) but this encoder is i8c", "", false},
		{"another float32", int8, "f32c", "", "trained on encoder minilm (i8a) but this encoder is f32c", "", false},
		{"forced", fp32, "i8c", "f32c", "", "", true},
	}
	for _, tc := range tests {
		m, _ := trained(t, quick(HeadSoftmax))
		m.SetEncoder(tc.head)
		note, err := m.AcceptEncoder(tc.digest, tc.from, 10, tc.force)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
		if (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
			t.Errorf("%s: note %q, want one saying %q", tc.name, note, tc.note)
		}
	}
}

// TestConcurrentPredict runs PredictProba from many goroutines (run it
// with -race) and checks every answer against a sequential one.
func TestConcurrentPredict(t *testing.T) {
	t.Parallel()
	cfg := quick(HeadMLP)
	m, val := trained(t, cfg)
	want, _ := m.PredictProba(val.X)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(val.X); i += 16 {
				p, err := m.PredictProba(val.X[i : i+1])
				if err != nil || p[0][0] != want[i][0] {
					errs <- "mismatch"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestPredictProbaChecksInput(t *testing.T) {
	t.Parallel()
	m, _ := trained(t, quick(HeadSoftmax))
	if _, err := m.PredictProba([][]float32{make([]float32, 9)}); err == nil || !strings.Contains(err.Error(), "head expects 10") {
		t.Errorf("width: %v", err)
	}
	row := make([]float32, 10)
	row[3] = float32(posInf())
	if _, err := m.PredictProba([][]float32{make([]float32, 10), row}); err == nil || !strings.Contains(err.Error(), "row 2") {
		t.Errorf("inf: %v", err)
	}
	if p, err := m.PredictProba(nil); err != nil || len(p) != 0 {
		t.Errorf("empty input: %v %v", p, err)
	}
}

// FuzzDecode feeds arbitrary head.json and safetensors bytes to the
// loader: it must return an error or a usable model, never panic.
func FuzzDecode(f *testing.F) {
	var st bytes.Buffer
	safetensors.Write(&st, map[string]safetensors.Tensor{
		"out.weight": {Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		"out.bias":   {Shape: []int{2}, Data: []float32{0, 1}},
	}, nil)
	meta := `{"format":"bertserve-head","version":1,"labels":["a","b"],"dim":3,"head":{"kind":"softmax"},"params":{"head":8,"total":8}}`
	f.Add([]byte(meta), st.Bytes())
	f.Add([]byte(`{"format":"bertserve-head","version":1,"labels":["a","b"],"dim":3,"head":{"kind":"mlp","hidden":[4],"activation":"relu"},"adapter":{"kind":"lora","rank":1,"alpha":1}}`), st.Bytes())
	f.Fuzz(func(t *testing.T, metaJSON, tensors []byte) {
		m, err := decode(metaJSON, bytes.NewReader(tensors))
		if err != nil {
			return
		}
		x := make([]float32, m.Dim())
		p, err := m.PredictProba([][]float32{x})
		if err != nil || len(p) != 1 || len(p[0]) != len(m.Labels()) {
			t.Fatalf("a loaded model failed to predict: %v %v", p, err)
		}
	})
}
