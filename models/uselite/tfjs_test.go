package uselite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTFJS writes a model.json with the given manifest weights and the
// shards holding data, split into pieces of shardSize bytes.
func writeTFJS(t testing.TB, dir, weights string, data []byte, shardSize int) {
	t.Helper()
	var paths []string
	for i := 0; i*shardSize < len(data) || i == 0; i++ {
		end := min(len(data), (i+1)*shardSize)
		name := fmt.Sprintf("group1-shard%d", i+1)
		paths = append(paths, fmt.Sprintf("%q", name))
		if err := os.WriteFile(filepath.Join(dir, name), data[i*shardSize:end], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	js := fmt.Sprintf(`{"modelTopology":{"node":[{"name":"x","op":"Placeholder"},{"name":"w","op":"Const"}]},
"weightsManifest":[{"paths":[%s],"weights":%s}]}`, strings.Join(paths, ","), weights)
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
}

func le(vals ...any) []byte {
	var b bytes.Buffer
	for _, v := range vals {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func TestReadTFJS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := le(float32(1.5), float32(-2), float32(3), float32(4), float32(5), float32(6), int32(7), int32(-8), float32(math.Pi))
	writeTFJS(t, dir, `[{"name":"w","shape":[2,3],"dtype":"float32"},{"name":"i","shape":[2],"dtype":"int32"},{"name":"s","shape":[],"dtype":"float32"}]`, data, 10)
	m, err := ReadTFJS(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := m.Weight("w")
	if !ok || w.Len() != 6 || w.Float32[0] != 1.5 || w.Float32[5] != 6 || w.Int32 != nil {
		t.Fatalf("w = %+v", w)
	}
	i, _ := m.Weight("i")
	if i.Int32[0] != 7 || i.Int32[1] != -8 || i.Float32 != nil {
		t.Fatalf("i = %+v", i)
	}
	s, _ := m.Weight("s")
	if s.Len() != 1 || s.Float32[0] != float32(math.Pi) {
		t.Fatalf("s = %+v", s)
	}
	if len(m.Weights) != 3 || m.Weights[1].Name != "i" {
		t.Fatalf("weights not in manifest order: %v", m.Weights)
	}
	if m.Ops["x"] != "Placeholder" || m.Ops["w"] != "Const" {
		t.Fatalf("ops %v", m.Ops)
	}
}

func TestReadTFJSErrors(t *testing.T) {
	t.Parallel()
	four := le(float32(1), float32(2), float32(3), float32(4))
	tests := []struct {
		name, weights string
		data          []byte
		want          string
	}{
		{"short", `[{"name":"w","shape":[5],"dtype":"float32"}]`, four, "missing or truncated"},
		{"long", `[{"name":"w","shape":[3],"dtype":"float32"}]`, four, "more bytes"},
		{"dtype", `[{"name":"w","shape":[4],"dtype":"float16"}]`, four, "dtype"},
		{"quantized", `[{"name":"w","shape":[4],"dtype":"float32","quantization":{"dtype":"uint8"}}]`, four, "quantized"},
		{"duplicate", `[{"name":"w","shape":[2],"dtype":"float32"},{"name":"w","shape":[2],"dtype":"float32"}]`, four, "twice"},
		{"negative", `[{"name":"w","shape":[-4],"dtype":"float32"}]`, four, "negative or too large"},
		{"huge", `[{"name":"w","shape":[65536,65536,65536],"dtype":"float32"}]`, four, "too large"},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		writeTFJS(t, dir, tc.weights, tc.data, 8)
		if _, err := ReadTFJS(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{"weightsManifest":[{"paths":["../x"],"weights":[]}]}`), 0o644)
	if _, err := ReadTFJS(dir); err == nil || !strings.Contains(err.Error(), "leaves the model directory") {
		t.Errorf("shard path outside the directory: err = %v", err)
	}
	if _, err := ReadTFJS(t.TempDir()); err == nil {
		t.Error("no error without model.json")
	}
}

// FuzzParseTFJS feeds arbitrary model.json bytes (with a 16-byte shard)
// to the parser: it must fail or return weights that hold exactly what
// their shapes say.
func FuzzParseTFJS(f *testing.F) {
	f.Add([]byte(`{"weightsManifest":[{"paths":["a"],"weights":[{"name":"w","shape":[2,2],"dtype":"float32"}]}]}`))
	f.Add([]byte(`{"weightsManifest":[{"paths":["a","a"],"weights":[{"name":"w","shape":[8],"dtype":"int32"}]}]}`))
	f.Add([]byte(`{"modelTopology":{"node":[{"name":"n","op":"Const"}]},"weightsManifest":[]}`))
	f.Add([]byte(`{"weightsManifest":[{"paths":[],"weights":[{"name":"w","shape":[0],"dtype":"float32"}]}]}`))
	shard := le(int32(1), int32(2), int32(3), int32(4))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parseTFJS(raw, func(string) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(shard)), nil
		})
		if err != nil {
			return
		}
		for _, w := range m.Weights {
			if len(w.Float32)+len(w.Int32) != w.Len() {
				t.Fatalf("%s: %d values for shape %v", w.Name, len(w.Float32)+len(w.Int32), w.Shape)
			}
		}
	})
}
