package models

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models/internal/orttest"
	"github.com/bertserve/bertserve/models/onnx"
)

func TestParseDType(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": DTypeFloat32, "fp32": DTypeFloat32, "float32": DTypeFloat32, "int8": DTypeInt8} {
		if got, err := ParseDType(in); err != nil || got != want {
			t.Errorf("ParseDType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"int4", "fp16", "INT8 "} {
		if _, err := ParseDType(bad); err == nil || !strings.Contains(err.Error(), "fp32") {
			t.Errorf("ParseDType(%q): error %v, want one naming the accepted dtypes", bad, err)
		}
	}
}

// The float32 build through BuildWith is Build, byte for byte.
func TestBuildWithFloat32IsBuild(t *testing.T) {
	t.Parallel()
	cfg := loadTestConfig(t, "tiny-bert.json")
	w := RandomWeights(cfg, 3)
	a, err := BuildONNX(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range []string{"", "fp32", DTypeFloat32} {
		b, err := BuildWith(cfg, w, BuildOptions{DType: dt})
		if err != nil {
			t.Fatal(err)
		}
		data, err := b.Model.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, data) {
			t.Errorf("BuildWith dtype %q differs from Build", dt)
		}
	}
}

func TestQuantizeColumns(t *testing.T) {
	t.Parallel()
	w := []float32{0.5, -2, 0, -0.25, 1, 0, 0.125, 0.5, 0} // [3, 3]
	q, s := quantizeColumns(w, 3, 3)
	wantS := []float32{0.5 / 127, 2.0 / 127, 1}
	for n := range wantS {
		if math.Abs(float64(s[n]-wantS[n])) > 1e-9 {
			t.Errorf("scale[%d] = %g, want %g", n, s[n], wantS[n])
		}
	}
	for i, v := range w {
		got := float32(int8(q[i])) * s[i%3]
		if math.Abs(float64(got-v)) > float64(s[i%3])/2+1e-7 {
			t.Errorf("w[%d] = %g dequantizes to %g", i, v, got)
		}
	}
	if int8(q[0]) != 127 || int8(q[1]) != -127 {
		t.Errorf("column maxima quantize to %d, %d; want 127, -127", int8(q[0]), int8(q[1]))
	}
}

// quantBatch is a padded batch of random token ids.
type quantBatch struct {
	ids, mask []int64
	B, T      int
	lens      []int
}

func newQuantBatch(r *rand.Rand, vocab int, lens ...int) quantBatch {
	T := 0
	for _, l := range lens {
		T = max(T, l)
	}
	b := quantBatch{ids: make([]int64, len(lens)*T), mask: make([]int64, len(lens)*T), B: len(lens), T: T, lens: lens}
	for i, l := range lens {
		for t := 0; t < l; t++ {
			b.ids[i*T+t], b.mask[i*T+t] = int64(1+r.IntN(vocab-1)), 1
		}
	}
	return b
}

func (b quantBatch) inputs(types bool) []orttest.Input {
	shape := []int64{int64(b.B), int64(b.T)}
	in := []orttest.Input{{Name: InputIDs, Shape: shape, Int64: b.ids}, {Name: InputMask, Shape: shape, Int64: b.mask}}
	if types {
		in = append(in, orttest.Input{Name: InputTypeIDs, Shape: shape, Int64: make([]int64, b.B*b.T)})
	}
	return in
}

func (b quantBatch) seqs() [][]int64 {
	s := make([][]int64, b.B)
	for i, l := range b.lens {
		s[i] = b.ids[i*b.T : i*b.T+l]
	}
	return s
}

// On random models of each family, the int8 graph (calibrated on other
// random text) gives hidden states close to float32 at every real token,
// and a sequence's int8 result does not depend on its batch-mates.
func TestInt8RandomModels(t *testing.T) {
	orttest.Require(t)
	for _, name := range []string{"tiny-bert.json", "tiny-roberta.json", "tiny-distilbert.json", "tiny-bert-gelu-new.json"} {
		t.Run(name, func(t *testing.T) {
			cfg := loadTestConfig(t, name)
			w := RandomWeightsWith(cfg, RandomOptions{Seed: 5, Pooler: true, PerturbAll: true})
			r := rand.New(rand.NewPCG(7, 8))
			calib := newQuantBatch(r, cfg.VocabSize, 5, 9, 17, 30)
			cal, err := Calibrate(cfg, w, calib.seqs(), "")
			if err != nil {
				t.Fatal(err)
			}
			if want := 4 * cfg.NumLayers; len(cal) != want {
				t.Fatalf("calibration has %d inputs, want %d", len(cal), want)
			}
			fp, err := BuildONNX(cfg, w)
			if err != nil {
				t.Fatal(err)
			}
			qb, err := BuildWith(cfg, w, BuildOptions{DType: DTypeInt8, Calibration: cal})
			if err != nil {
				t.Fatal(err)
			}
			q, err := qb.Model.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			info, err := onnx.Inspect(q)
			if err != nil {
				t.Fatal(err)
			}
			if n := info.OpCounts()["com.microsoft.MatMulIntegerToFloat"]; n != 6*cfg.NumLayers {
				t.Errorf("%d MatMulIntegerToFloat nodes, want %d", n, 6*cfg.NumLayers)
			}
			types := cfg.HasTokenTypes()
			batch := newQuantBatch(r, cfg.VocabSize, 3, 12, 25, 7)
			a := orttest.Run(t, fp, batch.inputs(types), []string{OutputHidden}, nil)[OutputHidden]
			b := orttest.Run(t, q, batch.inputs(types), []string{OutputHidden}, nil)[OutputHidden]
			H := cfg.HiddenSize
			worst := 1.0
			for i := 0; i < batch.B; i++ {
				for tk := 0; tk < batch.lens[i]; tk++ {
					off := (i*batch.T + tk) * H
					worst = math.Min(worst, orttest.Cosine(a.Data[off:off+H], b.Data[off:off+H]))
				}
			}
			if worst < 0.99 {
				t.Errorf("int8 hidden states: worst token cosine %.4f with float32, want ≥ 0.99", worst)
			}
			// Row 1 alone, padded to its own length, gives the same values.
			one := quantBatch{ids: batch.ids[batch.T : batch.T+12], mask: batch.mask[batch.T : batch.T+12], B: 1, T: 12, lens: []int{12}}
			alone := orttest.Run(t, q, one.inputs(types), []string{OutputHidden}, nil)[OutputHidden]
			for tk := 0; tk < 12; tk++ {
				for j := 0; j < H; j++ {
					x, y := alone.Data[tk*H+j], b.Data[(batch.T+tk)*H+j]
					if math.Abs(float64(x-y)) > 1e-4 {
						t.Fatalf("token %d feature %d: %g alone, %g in a batch: int8 results depend on batch-mates", tk, j, x, y)
					}
				}
			}
		})
	}
}

func TestBuildWithErrors(t *testing.T) {
	t.Parallel()
	cfg := loadTestConfig(t, "tiny-bert.json")
	w := RandomWeights(cfg, 1)
	if _, err := BuildWith(cfg, w, BuildOptions{DType: "int4"}); err == nil || !strings.Contains(err.Error(), "int4") {
		t.Errorf("dtype int4: %v", err)
	}
	cal := map[string][]float32{"layer.0.qkv": make([]float32, 7)}
	if _, err := BuildWith(cfg, w, BuildOptions{DType: DTypeInt8, Calibration: cal}); err == nil || !strings.Contains(err.Error(), "7 channels") {
		t.Errorf("calibration of the wrong width: %v", err)
	}
}

func TestQuantizeDir(t *testing.T) {
	orttest.Require(t)
	cfg := loadTestConfig(t, "tiny-bert.json")
	src := filepath.Join(t.TempDir(), "fp32")
	tok := writeFile(t, filepath.Join(t.TempDir(), "tokenizer.json"), `{"model":{}}`)
	fm, err := WriteModelDir(src, DirSpec{Config: cfg, Weights: RandomWeights(cfg, 2), Tokenizer: tok, Source: "random:seed=2"})
	if err != nil {
		t.Fatal(err)
	}
	seqs := newQuantBatch(rand.New(rand.NewPCG(1, 1)), cfg.VocabSize, 4, 8).seqs()
	opts := QuantizeOptions{DType: DTypeInt8, Calibration: seqs, CalibrationSource: "random ids"}
	dst := filepath.Join(t.TempDir(), "int8")
	m, err := QuantizeDir(src, dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	if m.DType != DTypeInt8 || m.QuantizedFrom != fm.SHA256 || m.Calibration != "random ids" || m.SHA256 == fm.SHA256 {
		t.Errorf("manifest dtype %q, quantized_from %q, calibration %q, sha256 %q", m.DType, m.QuantizedFrom, m.Calibration, m.SHA256)
	}
	read, err := ReadManifest(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := read.Verify(dst); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{TokenizerJSONFile, ConfigFile, WeightsFile} {
		if read.Files[f] != fm.Files[f] {
			t.Errorf("%s: sha256 %s, source has %s", f, read.Files[f], fm.Files[f])
		}
	}
	// The same inputs give the same graph.
	again, err := QuantizeDir(src, filepath.Join(t.TempDir(), "again"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.SHA256 != m.SHA256 {
		t.Errorf("quantizing twice gave %s and %s", m.SHA256, again.SHA256)
	}

	for _, tc := range []struct {
		name, src, want string
		opts            QuantizeOptions
	}{
		{"not a model dir", t.TempDir(), "model directory", opts},
		{"already int8", dst, "already an int8 model", opts},
		{"unknown dtype", src, "unknown dtype", QuantizeOptions{DType: "int4", Calibration: seqs}},
		{"float32", src, "other than float32", QuantizeOptions{DType: DTypeFloat32, Calibration: seqs}},
		{"no calibration", src, "calibration text", QuantizeOptions{DType: DTypeInt8}},
	} {
		if _, err := QuantizeDir(tc.src, filepath.Join(t.TempDir(), "x"), tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	// A model.onnx that is not what the builder makes from the weights
	// (here: the weights changed under it) is refused.
	other := filepath.Join(t.TempDir(), "other")
	if _, err := WriteModelDir(other, DirSpec{Config: cfg, Weights: RandomWeights(cfg, 3), Tokenizer: tok}); err != nil {
		t.Fatal(err)
	}
	om, err := ReadManifest(other)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(src, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, WeightsFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	om.Files[WeightsFile] = fm.Files[WeightsFile]
	if err := WriteManifest(other, om); err != nil {
		t.Fatal(err)
	}
	if _, err := QuantizeDir(other, filepath.Join(t.TempDir(), "y"), opts); err == nil || !strings.Contains(err.Error(), "is not the graph this bertserve builds") {
		t.Errorf("mismatched model.onnx: %v", err)
	}
	// In place: the directory ends up int8, complete.
	inPlace, err := QuantizeDir(src, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if inPlace.SHA256 != m.SHA256 {
		t.Errorf("in place gave %s, want %s", inPlace.SHA256, m.SHA256)
	}
	if rm, err := ReadManifest(src); err != nil || rm.Verify(src) != nil || rm.DType != DTypeInt8 {
		t.Errorf("in place: manifest %+v, %v", rm, err)
	}
}

// The fused float32 graph computes what the plain one does (exact GELU
// included), and the fused int8 graph what the plain int8 one does.
func TestFusedRandomModels(t *testing.T) {
	orttest.Require(t)
	for _, name := range []string{"tiny-bert.json", "tiny-roberta.json", "tiny-distilbert.json", "tiny-bert-gelu-new.json"} {
		t.Run(name, func(t *testing.T) {
			cfg := loadTestConfig(t, name)
			w := RandomWeightsWith(cfg, RandomOptions{Seed: 9, Pooler: true, PerturbAll: true})
			r := rand.New(rand.NewPCG(3, 4))
			cal, err := Calibrate(cfg, w, newQuantBatch(r, cfg.VocabSize, 6, 20).seqs(), "")
			if err != nil {
				t.Fatal(err)
			}
			build := func(opts BuildOptions) []byte {
				t.Helper()
				b, err := BuildWith(cfg, w, opts)
				if err != nil {
					t.Fatal(err)
				}
				data, err := b.Model.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
			types := cfg.HasTokenTypes()
			// A padded batch, then one without padding (the fused
			// attention's other branch, see attention).
			for _, batch := range []quantBatch{newQuantBatch(r, cfg.VocabSize, 4, 15, 9), newQuantBatch(r, cfg.VocabSize, 11, 11)} {
				run := func(model []byte) []float32 {
					return orttest.Run(t, model, batch.inputs(types), []string{OutputHidden}, nil)[OutputHidden].Data
				}
				real := func(a, b []float32) float64 { // over real tokens only
					H, worst := cfg.HiddenSize, 0.0
					for i := 0; i < batch.B; i++ {
						for tk := 0; tk < batch.lens[i]; tk++ {
							off := (i*batch.T + tk) * H
							worst = math.Max(worst, maxAbs(a[off:off+H], b[off:off+H]))
						}
					}
					return worst
				}
				fp := run(build(BuildOptions{}))
				if d := real(fp, run(build(BuildOptions{Fused: true}))); d > 1e-4 {
					t.Errorf("fused float32, batch lengths %v: max |Δ| %.3g from the plain graph", batch.lens, d)
				}
				q := run(build(BuildOptions{DType: DTypeInt8, Calibration: cal}))
				if d := real(q, run(build(BuildOptions{DType: DTypeInt8, Calibration: cal, Fused: true}))); d > 1e-3 {
					t.Errorf("fused int8, batch lengths %v: max |Δ| %.3g from the plain int8 graph", batch.lens, d)
				}
			}
		})
	}
}

func maxAbs(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}
