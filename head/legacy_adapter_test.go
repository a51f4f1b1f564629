package head

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models/safetensors"
)

// TestLegacyAdapterFolds loads heads saved with an embedding-level LoRA
// adapter by the code before its removal (testdata/legacy-adapter, made
// by that code's Train and Save on blobs(200, 8, 3, 2, 5) with rank 2,
// alpha 4, with its PredictProba of ten rows in expected.json): folded
// into the first layer, the head gives the same probabilities, records
// no adapter, and saves and loads again without one.
func TestLegacyAdapterFolds(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"softmax", "mlp"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join("testdata", "legacy-adapter", name)
			raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				X     [][]float32 `json:"x"`
				Proba [][]float64 `json:"proba"`
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			st, err := safetensors.ReadFile(filepath.Join(dir, TensorsFile))
			if err != nil {
				t.Fatal(err)
			}
			nonzero := 0
			for _, v := range st.Tensors["adapter.lora_B"].Data {
				if v != 0 {
					nonzero++
				}
			}
			if nonzero == 0 {
				t.Fatal("the legacy head's lora_B is zero: the fixture would not test the fold")
			}
			m, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.PredictProba(want.X)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				for c := range got[i] {
					if d := math.Abs(got[i][c] - want.Proba[i][c]); d > 1e-5 {
						t.Fatalf("row %d class %d: %v, the adapter head gave %v", i, c, got[i][c], want.Proba[i][c])
					}
				}
			}
			if p := m.Meta().Params; p.Total != p.Head || p.Head == 0 {
				t.Errorf("params after folding: %+v", p)
			}
			out := filepath.Join(t.TempDir(), "h")
			if err := Save(out, m); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(out, MetaFile))
			if strings.Contains(string(b), `"adapter"`) {
				t.Errorf("re-saved head.json still mentions the adapter")
			}
			m2, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := m2.PredictProba(want.X)
			for i := range again {
				for c := range again[i] {
					if again[i][c] != got[i][c] {
						t.Fatalf("re-saved head predicts %v, loaded %v", again[i][c], got[i][c])
					}
				}
			}
		})
	}
}

// TestLegacyAdapterErrors: a legacy adapter head.json that is wrong says
// what is wrong.
func TestLegacyAdapterErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ adapter, want string }{
		{`{"kind": "prefix", "rank": 2, "alpha": 4}`, `adapter kind "prefix" is unknown`},
		{`{"kind": "lora", "rank": 9, "alpha": 4}`, "rank 9 must be in [1, dim 8]"},
		{`{"kind": "lora", "rank": 2, "alpha": 0}`, "alpha 0 must be a positive number"},
		{`{"kind": "lora", "rank": 1, "alpha": 4}`, `tensor "adapter.lora_A" has shape [2 8]`},
	} {
		dir := filepath.Join("testdata", "legacy-adapter", "softmax")
		meta, err := os.ReadFile(filepath.Join(dir, MetaFile))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(meta, &doc); err != nil {
			t.Fatal(err)
		}
		doc["adapter"] = json.RawMessage(tc.adapter)
		meta, _ = json.Marshal(doc)
		f, err := os.Open(filepath.Join(dir, TensorsFile))
		if err != nil {
			t.Fatal(err)
		}
		_, err = decode(meta, f)
		f.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("adapter %s: %v, want %q", tc.adapter, err, tc.want)
		}
	}
}
