package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/models"
	modelsplit "github.com/bertserve/bertserve/models/split"
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
