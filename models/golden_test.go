package models

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bertserve/bertserve/models/internal/orttest"
	"github.com/bertserve/bertserve/models/safetensors"
)

// Golden files hold the outputs of scripts/torch_reference.py (an
// independent PyTorch implementation written like transformers' modeling
// code) for real tokenized sentences, run on the weights RandomWeightsWith
// draws from a seed. The weights are not committed: the test redraws them
// and checks their digest first, so a change in the random generator is
// reported as such rather than as a numerical mismatch.
//
// To regenerate (needs /usr/bin/python3 with torch and ../shared):
//
//	BERTSERVE_GOLDEN_REGEN=1 go test ./models -run TestGolden
type goldenSpec struct {
	file    string // under testdata/golden
	config  string // under testdata/configs
	seed    uint64
	perturb bool // RandomOptions.PerturbAll
	n       int  // sentences
	store   string
}

var goldenSpecs = []goldenSpec{
	{"tiny-bert.json.gz", "tiny-bert.json", 1, true, 20, "full"},
	{"tiny-bert-gelu-new.json.gz", "tiny-bert-gelu-new.json", 5, true, 5, "full"},
	{"tiny-roberta.json.gz", "tiny-roberta.json", 2, true, 14, "full"},
	{"tiny-distilbert.json.gz", "tiny-distilbert.json", 3, true, 14, "full"},
	{"minilm-l6-h384.json.gz", "minilm-l6-h384.json", 4, false, 8, "summary"},
}

// goldenTolerance is the largest absolute difference allowed between ONNX
// Runtime (float32) and the float64 PyTorch reference.
const goldenTolerance = 1e-4

type goldenFile struct {
	Seed          uint64         `json:"seed"`
	Perturb       bool           `json:"perturb"`
	WeightsSHA256 string         `json:"weights_sha256"`
	Store         string         `json:"store"`
	Batches       []goldenBatch  `json:"batches"`
	Config        map[string]any `json:"config"`
}

type goldenBatch struct {
	InputIDs      [][]int64 `json:"input_ids"`
	AttentionMask [][]int64 `json:"attention_mask"`
	TokenTypeIDs  [][]int64 `json:"token_type_ids"`
	Positions     [][]int   `json:"positions"`
	Hidden        string    `json:"hidden"`
	Mean          string    `json:"mean"`
	Pooler        string    `json:"pooler_output"`
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func weightsDigest(t testing.TB, w Weights) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	n := 0
	for _, t := range w {
		n += 4*len(t.Data) + 128
	}
	buf.Grow(n)
	if err := safetensors.Write(&buf, w, nil); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:])
}

func regenGolden(t *testing.T, spec goldenSpec, stBytes []byte) {
	root := repoRoot(t)
	tokref := filepath.Join(root, "..", "shared", "acceptance", "tokref")
	if _, err := os.Stat(tokref); err != nil {
		t.Fatalf("regenerating needs the reference token ids in %s: %v", tokref, err)
	}
	tmp := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(tmp, stBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(map[string]any{"seed": spec.seed, "perturb": spec.perturb})
	cmd := exec.Command("/usr/bin/python3", filepath.Join(root, "scripts", "torch_reference.py"),
		"--config", filepath.Join("testdata", "configs", spec.config),
		"--weights", tmp,
		"--sentences", filepath.Join(tokref, "en_ref.jsonl"),
		"--pairs", filepath.Join(tokref, "pairs_ref.jsonl"),
		"--n", fmt.Sprint(spec.n), "--store", spec.store, "--meta", string(meta),
		"--out", filepath.Join("testdata", "golden", spec.file))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("torch_reference.py: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func readGolden(t *testing.T, path string) *goldenFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (regenerate with BERTSERVE_GOLDEN_REGEN=1)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &g
}

func decodeF32(t *testing.T, s string) []float32 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("bad float32 payload in golden file: %v", err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func flatten(rows [][]int64) []int64 {
	var out []int64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, spec := range goldenSpecs {
		t.Run(spec.config, func(t *testing.T) {
			cfg, err := LoadConfig(filepath.Join("testdata", "configs", spec.config))
			if err != nil {
				t.Fatal(err)
			}
			w := RandomWeightsWith(cfg, RandomOptions{Seed: spec.seed, Pooler: true, PerturbAll: spec.perturb})
			stBytes, digest := weightsDigest(t, w)
			if os.Getenv("BERTSERVE_GOLDEN_REGEN") == "1" {
				regenGolden(t, spec, stBytes)
			}
			g := readGolden(t, filepath.Join("testdata", "golden", spec.file))
			if g.Seed != spec.seed || g.Perturb != spec.perturb {
				t.Fatalf("golden made with seed %d perturb %v, test draws seed %d perturb %v", g.Seed, g.Perturb, spec.seed, spec.perturb)
			}
			if g.WeightsSHA256 != digest {
				t.Fatalf("weights drawn for seed %d have sha256 %s, the golden file was made from %s: the random init changed (it must be stable across Go versions and platforms)", spec.seed, digest, g.WeightsSHA256)
			}
			// Round trip through safetensors, as build-model does.
			st, err := safetensors.Read(bytes.NewReader(stBytes))
			if err != nil {
				t.Fatal(err)
			}
			built, err := Build(cfg, st.Tensors)
			if err != nil {
				t.Fatal(err)
			}
			model, err := built.Model.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			orttest.Require(t)
			checkGolden(t, cfg, built, model, g)
		})
	}
}

func checkGolden(t *testing.T, cfg *Config, built *Built, model []byte, g *goldenFile) {
	H := cfg.HiddenSize
	var worstH, worstM, worstP float64
	names := []string{InputIDs, InputMask}
	if cfg.HasTokenTypes() {
		names = append(names, InputTypeIDs)
	}
	sess, err := orttest.NewSession(model, names, built.Outputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for bi, b := range g.Batches {
		B, S := len(b.InputIDs), len(b.InputIDs[0])
		shape := []int64{int64(B), int64(S)}
		in := []orttest.Input{
			{Name: InputIDs, Shape: shape, Int64: flatten(b.InputIDs)},
			{Name: InputMask, Shape: shape, Int64: flatten(b.AttentionMask)},
		}
		if cfg.HasTokenTypes() {
			if b.TokenTypeIDs == nil {
				t.Fatalf("batch %d: golden has no token_type_ids for a model that takes them", bi)
			}
			in = append(in, orttest.Input{Name: InputTypeIDs, Shape: shape, Int64: flatten(b.TokenTypeIDs)})
		}
		out, err := sess.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		hs := out[OutputHidden]
		if len(hs.Data) != B*S*H {
			t.Fatalf("batch %d: last_hidden_state shape %v, want [%d %d %d]", bi, hs.Shape, B, S, H)
		}
		want := decodeF32(t, b.Hidden)
		k := 0
		for r := 0; r < B; r++ {
			for _, p := range b.Positions[r] {
				for j := 0; j < H; j++ {
					d := math.Abs(float64(hs.Data[(r*S+p)*H+j] - want[k]))
					if d > worstH {
						worstH = d
					}
					if d > goldenTolerance || math.IsNaN(d) {
						t.Fatalf("batch %d row %d token %d dim %d: onnx %g, torch %g", bi, r, p, j, hs.Data[(r*S+p)*H+j], want[k])
					}
					k++
				}
			}
		}
		wantMean := decodeF32(t, b.Mean)
		for r := 0; r < B; r++ {
			n := 0.0
			for _, m := range b.AttentionMask[r] {
				n += float64(m)
			}
			for j := 0; j < H; j++ {
				s := 0.0
				for p := 0; p < S; p++ {
					s += float64(b.AttentionMask[r][p]) * float64(hs.Data[(r*S+p)*H+j])
				}
				d := math.Abs(s/math.Max(n, 1e-9) - float64(wantMean[r*H+j]))
				worstM = math.Max(worstM, d)
				if d > goldenTolerance {
					t.Fatalf("batch %d row %d: masked mean dim %d differs by %g", bi, r, j, d)
				}
			}
		}
		if b.Pooler != "" {
			if !built.HasPooler {
				t.Fatal("golden has pooler_output, the graph has none")
			}
			wantP := decodeF32(t, b.Pooler)
			got := out[OutputPooler].Data
			if len(got) != len(wantP) {
				t.Fatalf("pooler_output has %d values, want %d", len(got), len(wantP))
			}
			for i := range got {
				d := math.Abs(float64(got[i] - wantP[i]))
				worstP = math.Max(worstP, d)
				if d > goldenTolerance {
					t.Fatalf("batch %d pooler_output[%d]: onnx %g, torch %g", bi, i, got[i], wantP[i])
				}
			}
		} else if built.HasPooler {
			t.Fatal("graph has pooler_output but the golden does not")
		}
	}
	t.Logf("%d batches: max |diff| hidden %.2g, mean %.2g, pooler %.2g", len(g.Batches), worstH, worstM, worstP)
}
