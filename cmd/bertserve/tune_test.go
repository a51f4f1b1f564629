package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/safetensors"
	modelsplit "github.com/bertserve/bertserve/models/split"
	"github.com/bertserve/bertserve/serve"
)

// captureStderr runs f with os.Stderr redirected and returns what it wrote.
func captureStderr(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	ferr := f()
	w.Close()
	os.Stderr = old
	return <-done, ferr
}

// trainTunedHead trains a LoRA head on the top layer of the tiny model.
func trainTunedHead(t *testing.T) (model, out, cache string) {
	t.Helper()
	model = cliModel(t)
	dir := t.TempDir()
	data, val := filepath.Join(dir, "train.tsv"), filepath.Join(dir, "val.tsv")
	writeSentiment(t, data, 30)
	writeSentiment(t, val, 8)
	out = filepath.Join(dir, "heads", "tuned")
	cache = filepath.Join(dir, "cache")
	args := []string{"--model", model, "--data", data, "--val", val, "--tune", "lora", "--layers", "1", "--epochs", "3",
		"--batch-size", "16", "--lr", "3e-3", "--cache-dir", cache, "--out", out, "--threads", "1"}
	stderr, err := captureStderr(t, func() error {
		_, err := captureStdout(t, func() error { return cmdTrain(args) })
		return err
	})
	if err != nil {
		t.Fatalf("train --tune lora: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "running the bottom on 60 texts") {
		t.Errorf("the first run does not say how much the bottom computes:\n%s", stderr)
	}
	// The same data and split again: no encoder work.
	stderr, err = captureStderr(t, func() error {
		_, err := captureStdout(t, func() error {
			return cmdTrain(append(args[:len(args)-4:len(args)-4], "--out", out+"2", "--threads", "1"))
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "all 76 hidden states below layer 1 came from the cache: no encoder work") {
		t.Errorf("the second run does not say it did no encoder work:\n%s", stderr)
	}
	return model, out, cache
}

// TestTrainTunedPredictMatchesGoTail trains with --tune lora, then checks
// that the head directory holds a tail whose digests head.json records,
// and that predict (bottom + tail.onnx in ONNX Runtime) gives the
// probabilities of the Go tail the head trained, within 1e-5.
func TestTrainTunedPredictMatchesGoTail(t *testing.T) {
	model, out, _ := trainTunedHead(t)
	m, err := head.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasTail() {
		t.Fatal("the tuned head has no tail")
	}
	ti := m.Meta().Tail
	graph, err := os.ReadFile(filepath.Join(out, tailFile))
	if err != nil {
		t.Fatal(err)
	}
	if ti.TailDigest != sha256Hex(graph) || ti.BaseEncoderDigest != m.Meta().Encoder.Digest || ti.FirstLayer != 1 || ti.NumLayers != 1 {
		t.Errorf("head.json tail %+v does not describe %s (sha256 %s)", ti, tailFile, sha256Hex(graph))
	}
	texts := []string{"a superb film , truly delightful", "an awful , boring film", "take 3"}
	stdout, err := captureStdout(t, func() error {
		return cmdPredict(append([]string{"--head", out, "--model", model, "--top-k", "0", "--threads", "1"}, texts...))
	})
	if err != nil {
		t.Fatal(err)
	}
	// The Go tail on float32 hidden states of the same bottom.
	enc, err := encoder.Open(encoder.Options{ModelDir: model, Pooling: m.Meta().Encoder.Pooling, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	sm, err := modelsplit.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	bg, err := sm.Bottom(1)
	if err != nil {
		t.Fatal(err)
	}
	bb, _ := bg.Marshal()
	bottom, err := enc.OpenBottom(bb)
	if err != nil {
		t.Fatal(err)
	}
	defer bottom.Close()
	seqs := &memSeqs{h: bottom.Hidden(), rows: make([][]float32, len(texts)), lens: make([]int, len(texts))}
	err = bottom.Run(context.Background(), bottom.Tokenize(texts), func(i int, h []float32, T int) error {
		seqs.rows[i], seqs.lens[i] = append([]float32(nil), h...), T
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.PredictProbaSeq(seqs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("predict printed %d lines for %d texts:\n%s", len(lines), len(texts), stdout)
	}
	worst := 0.0
	for i, line := range lines {
		var got []struct {
			Label string  `json:"label"`
			Score float64 `json:"score"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			for j, l := range m.Labels() {
				if l == g.Label {
					worst = max(worst, math.Abs(g.Score-want[i][j]))
				}
			}
		}
	}
	if worst > 1e-5 {
		t.Errorf("predict (bottom + tail.onnx) and the trained Go tail differ by %.3g", worst)
	}
	t.Logf("predict vs the Go tail: largest probability difference %.3g", worst)
}

type memSeqs struct {
	h    int
	rows [][]float32
	lens []int
}

func (s *memSeqs) Len() int    { return len(s.rows) }
func (s *memSeqs) Hidden() int { return s.h }
func (s *memSeqs) Row(i int, dst []float32) ([]float32, int) {
	return append(dst[:0], s.rows[i]...), s.lens[i]
}

func TestTrainTunedErrors(t *testing.T) {
	model := cliModel(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "train.tsv")
	writeSentiment(t, data, 10)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--layers", "3"}, "--layers must be 1..2"},
		{[]string{"--layers", "two"}, "--layers \"two\""},
		{[]string{"--pooling", "max"}, "--pooling cls"},
		{[]string{"--lora-targets", "query,gate"}, "unknown lora target \"gate\""},
	} {
		args := append([]string{"--model", model, "--data", data, "--tune", "lora", "--out", filepath.Join(dir, "h"), "--cache-dir", filepath.Join(dir, "c")}, tc.args...)
		_, err := captureStderr(t, func() error { return cmdTrain(args) })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("train %v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	if err := cmdTrain([]string{"--embeddings", "x.npy", "--labels", "y.txt", "--tune", "top", "--out", filepath.Join(dir, "h")}); err == nil || !strings.Contains(err.Error(), "needs the texts") {
		t.Errorf("--tune with --embeddings: %v", err)
	}
	// A model directory without its weights cannot be split.
	os.Remove(filepath.Join(model, models.WeightsFile))
	_, err := captureStderr(t, func() error {
		return cmdTrain([]string{"--model", model, "--data", data, "--tune", "top", "--out", filepath.Join(dir, "h")})
	})
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("without model.safetensors: %v", err)
	}
}

// TestServeTailedHeads serves a tuned head next to a plain one and checks
// /v1/classify against (a) predict and (b) the unsplit merged model: the
// full graph built from the base weights with the head's merged layers in
// place, embedded by the encoder as any model is (within 1e-5).
func TestServeTailedHeads(t *testing.T) {
	model, out, _ := trainTunedHead(t)
	headsDir := filepath.Dir(out)
	dir := t.TempDir()
	data := filepath.Join(dir, "plain.tsv")
	writeSentiment(t, data, 20)
	if _, err := captureStderr(t, func() error {
		_, err := captureStdout(t, func() error {
			return cmdTrain([]string{"--model", model, "--data", data, "--out", filepath.Join(headsDir, "plain"), "--cache-dir", filepath.Join(dir, "c")})
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	m, err := head.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encoder.Open(encoder.Options{ModelDir: model, Pooling: m.Meta().Encoder.Pooling, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var backend atomic.Pointer[encoderBackend]
	store, train, err := openHeads(headsDir, false, backend.Load)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(serve.Config{Store: store, Train: train, Logger: slog.New(slog.DiscardHandler), MaxWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := startServing(srv, enc, model, &backend, slog.New(slog.DiscardHandler), serveFlags{heads: headsDir, addr: ":0"}, ":0"); err != nil {
		t.Fatal(err)
	}
	defer backend.Load().tails.Close()
	if got := srv.Heads().Names(); !slices.Equal(got, []string{"plain", "tuned", "tuned2"}) {
		t.Fatalf("loaded heads %v", got)
	}
	texts := []string{"a superb film , truly delightful", "an awful , boring film", "take 3", "the cast"}
	body, _ := json.Marshal(map[string]any{"inputs": texts, "heads": []string{"tuned", "plain", "tuned2"}, "top_k": 0})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/classify", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("classify: %d %s", rec.Code, rec.Body)
	}
	var got map[string][][]serve.LabelScore
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	score := func(rows [][]serve.LabelScore, i int, label string) float64 {
		for _, ls := range rows[i] {
			if ls.Label == label {
				return ls.Score
			}
		}
		return math.NaN()
	}
	// (a) predict, head by head.
	for _, name := range []string{"tuned", "plain"} {
		stdout, err := captureStdout(t, func() error {
			return cmdPredict(append([]string{"--head", filepath.Join(headsDir, name), "--model", model, "--top-k", "0", "--threads", "1"}, texts...))
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var p []serve.LabelScore
			json.Unmarshal([]byte(line), &p)
			for _, ls := range p {
				if d := math.Abs(ls.Score - score(got[name], i, ls.Label)); d > 1e-6 {
					t.Errorf("head %s text %d label %s: served %.7f, predict %.7f", name, i, ls.Label, score(got[name], i, ls.Label), ls.Score)
				}
			}
		}
	}
	// A training job of the server tunes the same way; the head it makes
	// is saved with its tail and serves at once.
	cfg := head.Default()
	cfg.Tune, cfg.Layers, cfg.Epochs, cfg.BatchSize, cfg.LR = head.TuneLoRA, 1, 2, 16, 3e-3
	var lab head.Labelled
	for i := 0; i < 40; i++ {
		lab.Texts = append(lab.Texts, fmt.Sprintf("a %s film , take %d", []string{"superb", "awful"}[i%2], i))
		lab.Labels = append(lab.Labels, []string{"pos", "neg"}[i%2])
	}
	jh, err := train(context.Background(), &lab, cfg, func(head.Event) {})
	if err != nil {
		t.Fatalf("server training job with tune lora: %v", err)
	}
	if key := jh.(*headModel).Tail(); key == "" {
		t.Fatal("the job's head has no tail")
	}
	if err := store.Save("jobtuned", jh); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(headsDir, "jobtuned", tailFile)); err != nil {
		t.Errorf("the job's head was saved without %s: %v", tailFile, err)
	}
	if _, err := srv.Heads().Put("jobtuned", jh); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("POST", "/v1/classify", strings.NewReader(`{"inputs": "a superb film", "head": "jobtuned"}`))
	req.Header.Set("Content-Type", "application/json")
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"label"`) {
		t.Errorf("classify with the job's tuned head: %d %s", rec.Code, rec.Body)
	}

	// (b) the unsplit merged model.
	merged := mergedModelDir(t, model, m)
	menc, err := encoder.Open(encoder.Options{ModelDir: merged, Pooling: m.Meta().Encoder.Pooling, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer menc.Close()
	r, err := menc.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	x := r.Vectors
	if m.Meta().Tail.Normalize {
		for _, v := range x {
			encoder.Normalize(v)
		}
	}
	want, err := m.PredictProba(x)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range texts {
		for j, l := range m.Labels() {
			worst = max(worst, math.Abs(score(got["tuned"], i, l)-want[i][j]))
		}
	}
	if worst > 1e-5 {
		t.Errorf("served tuned head vs the unsplit merged model: probabilities differ by %.3g", worst)
	}
	t.Logf("served vs unsplit merged model: largest probability difference %.3g", worst)
}

// mergedModelDir writes the full model with the head's merged tail in
// place of the encoder's top layers.
func mergedModelDir(t *testing.T, model string, m *head.Model) string {
	t.Helper()
	cfg, err := models.LoadConfig(filepath.Join(model, models.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(filepath.Join(model, models.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	w := f.Tensors
	tw := m.Tail()
	for j, l := range tw.Layers {
		for name, data := range l {
			key := fmt.Sprintf("encoder.layer.%d.%s", tw.Spec.FirstLayer+j, name)
			old, ok := w[key]
			if !ok {
				t.Fatalf("base weights have no %s", key)
			}
			w[key] = safetensors.Tensor{Shape: old.Shape, Data: data}
		}
	}
	dir := filepath.Join(t.TempDir(), "merged")
	tok := filepath.Join(model, models.TokenizerJSONFile)
	if _, err := models.WriteModelDir(dir, models.DirSpec{Config: cfg, Weights: w, Tokenizer: tok, Pooling: m.Meta().Encoder.Pooling}); err != nil {
		t.Fatal(err)
	}
	return dir
}
