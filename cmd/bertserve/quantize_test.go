package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
)

// tinyWordPiece writes a WordPiece vocab.txt of vocab entries (w1, w2,
// ...) and a calibration file of sentences made of them.
func tinyWordPiece(t *testing.T, dir string, vocab int) (vocabPath, calib string) {
	t.Helper()
	var v strings.Builder
	v.WriteString("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n")
	for i := 5; i < vocab; i++ {
		fmt.Fprintf(&v, "w%d\n", i)
	}
	vocabPath = filepath.Join(dir, "vocab.txt")
	if err := os.WriteFile(vocabPath, []byte(v.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var c strings.Builder
	for i := range 40 {
		for j := range 3 + i%11 {
			fmt.Fprintf(&c, "w%d ", 5+(i*7+j*13)%(vocab-5))
		}
		c.WriteString("\n")
	}
	calib = filepath.Join(dir, "calib.txt")
	if err := os.WriteFile(calib, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return vocabPath, calib
}

func requireRuntime(t *testing.T) {
	t.Helper()
	if err := encoder.InitRuntime(""); err != nil {
		if os.Getenv("BERTSERVE_REQUIRE_ORT") == "1" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime not installed (make setup): %v", err)
	}
}

// build-model --dtype int8 and quantize give the same int8 model, whose
// embeddings are close to the float32 model's; bad uses say what is wrong.
func TestQuantizeCommand(t *testing.T) {
	requireRuntime(t)
	tmp := t.TempDir()
	vocab, calib := tinyWordPiece(t, tmp, 200)
	cfg := testConfig(t, "tiny-bert.json")
	fp32 := filepath.Join(tmp, "fp32")
	if err := cmdBuildModel([]string{"--config", cfg, "--random", "--seed", "4", "--tokenizer", vocab, "--out", fp32}); err != nil {
		t.Fatal(err)
	}
	int8Dir := filepath.Join(tmp, "int8")
	if err := cmdQuantize([]string{"--model", fp32, "--out", int8Dir, "--calibration", calib}); err != nil {
		t.Fatal(err)
	}
	fm, err := models.ReadManifest(fp32)
	if err != nil {
		t.Fatal(err)
	}
	qm, err := models.ReadManifest(int8Dir)
	if err != nil {
		t.Fatal(err)
	}
	if qm.DType != models.DTypeInt8 || qm.QuantizedFrom != fm.SHA256 || !strings.HasPrefix(qm.Calibration, "calib.txt: first 40 rows") {
		t.Errorf("int8 manifest: dtype %q quantized_from %q calibration %q", qm.DType, qm.QuantizedFrom, qm.Calibration)
	}
	// int8 is fused by default; --fused=false writes the plain int8 graph.
	plainDir := filepath.Join(tmp, "int8-plain")
	if err := cmdQuantize([]string{"--model", fp32, "--out", plainDir, "--calibration", calib, "--fused=false"}); err != nil {
		t.Fatal(err)
	}
	pm, err := models.ReadManifest(plainDir)
	if err != nil {
		t.Fatal(err)
	}
	if !qm.Fused || pm.Fused || pm.DType != models.DTypeInt8 || pm.SHA256 == qm.SHA256 {
		t.Errorf("int8 default fused %v, --fused=false fused %v (dtype %q, sha256 %s vs %s)", qm.Fused, pm.Fused, pm.DType, pm.SHA256, qm.SHA256)
	}
	// build-model --dtype int8 writes the same graph in one step.
	direct := filepath.Join(tmp, "direct")
	if err := cmdBuildModel([]string{"--config", cfg, "--random", "--seed", "4", "--tokenizer", vocab, "--out", direct, "--dtype", "int8", "--calibration", calib}); err != nil {
		t.Fatal(err)
	}
	dm, err := models.ReadManifest(direct)
	if err != nil {
		t.Fatal(err)
	}
	if dm.SHA256 != qm.SHA256 || dm.QuantizedFrom != fm.SHA256 {
		t.Errorf("build-model --dtype int8: sha256 %s from %s; quantize gave %s from %s", dm.SHA256, dm.QuantizedFrom, qm.SHA256, fm.SHA256)
	}

	// --fused: the fused float32 graph (no calibration) and fused int8.
	fusedDir, fusedInt8 := filepath.Join(tmp, "fused"), filepath.Join(tmp, "int8-fused")
	if err := cmdQuantize([]string{"--model", fp32, "--out", fusedDir, "--dtype", "fp32", "--fused"}); err != nil {
		t.Fatal(err)
	}
	if err := cmdQuantize([]string{"--model", fp32, "--out", fusedInt8, "--calibration", calib, "--fused"}); err != nil {
		t.Fatal(err)
	}
	fu, err := models.ReadManifest(fusedDir)
	if err != nil {
		t.Fatal(err)
	}
	if fu.DType != models.DTypeFloat32 || !fu.Fused || fu.FusedFrom != fm.SHA256 || fu.QuantizedFrom != "" || fu.SHA256 == fm.SHA256 {
		t.Errorf("fused manifest: dtype %q fused %v fused_from %q quantized_from %q", fu.DType, fu.Fused, fu.FusedFrom, fu.QuantizedFrom)
	}
	direct = filepath.Join(tmp, "direct-fused")
	if err := cmdBuildModel([]string{"--config", cfg, "--random", "--seed", "4", "--tokenizer", vocab, "--out", direct, "--fused"}); err != nil {
		t.Fatal(err)
	}
	if dm, err := models.ReadManifest(direct); err != nil || dm.SHA256 != fu.SHA256 {
		t.Errorf("build-model --fused: %+v, %v; want sha256 %s", dm, err, fu.SHA256)
	}

	texts := []string{"w5 w9 w31", "w100 w7", "w150 w151 w152 w153 w11 w12"}
	a := embedWith(t, fp32, texts)
	for _, tc := range []struct {
		dir string
		min float64
	}{{int8Dir, 0.99}, {fusedInt8, 0.99}, {fusedDir, 0.99999}} {
		b := embedWith(t, tc.dir, texts)
		for i := range a {
			if c := cosineF32(a[i], b[i]); c < tc.min {
				t.Errorf("%s, text %d: embedding cosine %.6f with float32, want ≥ %g", filepath.Base(tc.dir), i, c, tc.min)
			}
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", fp32, "--out", filepath.Join(tmp, "x")}, "needs --calibration"},
		{[]string{"--model", fp32, "--out", fp32, "--calibration", calib}, "must differ from --model"},
		{[]string{"--model", fp32, "--out", filepath.Join(tmp, "x"), "--calibration", calib, "--dtype", "int4"}, "unknown dtype"},
		{[]string{"--model", fp32, "--out", filepath.Join(tmp, "x"), "--calibration", calib, "--dtype", "fp32"}, "quantize writes int8"},
		{[]string{"--model", fusedDir, "--out", filepath.Join(tmp, "x"), "--calibration", calib}, "has fused operators"},
		{[]string{"--model", int8Dir, "--out", filepath.Join(tmp, "x"), "--calibration", calib}, "already an int8 model"},
		{[]string{"--model", tmp, "--out", filepath.Join(tmp, "x"), "--calibration", calib}, "model directory"},
		{[]string{"--model", fp32, "--out", filepath.Join(tmp, "x"), "--calibration", filepath.Join(tmp, "none.txt")}, "--calibration"},
		{[]string{"--out", filepath.Join(tmp, "x"), "--calibration", calib}, "--model is required"},
	} {
		if err := cmdQuantize(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("quantize %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if err := cmdBuildModel([]string{"--config", cfg, "--random", "--tokenizer", vocab, "--out", filepath.Join(tmp, "y"), "--calibration", calib}); err == nil || !strings.Contains(err.Error(), "--calibration is for --dtype int8") {
		t.Errorf("build-model --calibration without int8: %v", err)
	}
	if err := cmdPull([]string{"default", "--dtype", "int8", "--calibration", calib, "--package-only"}); err == nil || !strings.Contains(err.Error(), "--package-only") {
		t.Errorf("pull --dtype int8 --package-only: %v", err)
	}
	if err := cmdPull([]string{"default", "--dtype", "int9"}); err == nil || !strings.Contains(err.Error(), "unknown dtype") {
		t.Errorf("pull --dtype int9: %v", err)
	}
}

func embedWith(t *testing.T, dir string, texts []string) [][]float32 {
	t.Helper()
	enc, err := encoder.Open(encoder.Options{ModelDir: dir, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	r, err := enc.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	return r.Vectors
}

func cosineF32(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// A head trained on a float32 model predicts on its int8 quantization
// (and the other way round); a head trained on the int8 model records
// the int8 digest and its float32 source; another model's int8 variant
// is refused.
func TestHeadOnInt8Encoder(t *testing.T) {
	model, other := cliModel(t), cliModelSeed(t, 6)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "train.tsv")
	writeSentiment(t, data, 20)
	q := func(src, dst string) {
		t.Helper()
		if _, err := captureStdout(t, func() error {
			return cmdQuantize([]string{"--model", src, "--out", dst, "--calibration", data})
		}); err != nil {
			t.Fatal(err)
		}
	}
	int8Dir, otherInt8 := filepath.Join(tmp, "int8"), filepath.Join(tmp, "other-int8")
	q(model, int8Dir)
	q(other, otherInt8)
	train := func(m, out string) *models.Manifest {
		t.Helper()
		if _, err := captureStdout(t, func() error {
			return cmdTrain([]string{"--model", m, "--data", data, "--out", out, "--no-cache", "--threads", "1"})
		}); err != nil {
			t.Fatal(err)
		}
		man, err := models.ReadManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		return man
	}
	fpHead, qHead := filepath.Join(tmp, "head-fp32"), filepath.Join(tmp, "head-int8")
	fm := train(model, fpHead)
	qm := train(int8Dir, qHead)
	if e := mustLoad(t, qHead).Meta().Encoder; e.Digest != qm.SHA256 || e.QuantizedFrom != fm.SHA256 {
		t.Errorf("head trained on int8 records digest %s quantized_from %s; want %s from %s", e.Digest, e.QuantizedFrom, qm.SHA256, fm.SHA256)
	}
	predict := func(h, m string) error {
		_, err := captureStdout(t, func() error {
			return cmdPredict([]string{"--head", h, "--model", m, "--threads", "1", "a superb film"})
		})
		return err
	}
	fusedDir := filepath.Join(tmp, "fused")
	if _, err := captureStdout(t, func() error {
		return cmdQuantize([]string{"--model", model, "--out", fusedDir, "--dtype", "fp32", "--fused"})
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ head, model string }{{fpHead, int8Dir}, {qHead, model}, {qHead, int8Dir}, {fpHead, fusedDir}} {
		if err := predict(tc.head, tc.model); err != nil {
			t.Errorf("predict --head %s --model %s: %v", filepath.Base(tc.head), filepath.Base(tc.model), err)
		}
	}
	if _, err := captureStdout(t, func() error {
		return cmdEval([]string{"--head", fpHead, "--model", int8Dir, "--data", data, "--no-cache", "--threads", "1"})
	}); err != nil {
		t.Errorf("eval of the float32 head on the int8 model: %v", err)
	}
	for _, h := range []string{fpHead, qHead} {
		if err := predict(h, otherInt8); err == nil || !strings.Contains(err.Error(), "--force") {
			t.Errorf("predict --head %s on another model's int8 variant: %v", filepath.Base(h), err)
		}
	}
}
