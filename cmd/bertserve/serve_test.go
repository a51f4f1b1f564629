package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/serve"
)

func TestServeFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--model DIR is required"},
		{[]string{"--model", "m", "--log-format", "xml"}, "--log-format"},
		{[]string{"--model", "m", "--log-level", "loud"}, "--log-level"},
		{[]string{"--model", "m", "--max-batch-requests", "0"}, "--max-batch-requests must be positive"},
		{[]string{"--model", "m", "--max-wait", "-1ms"}, "--max-wait must not be negative"},
		{[]string{"--model", "m", "--admin-token", "short"}, "at least 8"},
		{[]string{"--model", "m", "extra"}, "unexpected arguments"},
	} {
		err := cmdServe(tc.args)
		if err == nil || !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cmdServe(%q) = %v, want a usage error about %q", tc.args, err, tc.want)
		}
	}
}

// blobs returns two separable classes of dim-d points.
func blobs(n, d int) ([][]float32, []string) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([][]float32, n)
	y := make([]string, n)
	for i := range x {
		label, shift := "neg", -1.0
		if i%2 == 1 {
			label, shift = "pos", 1.0
		}
		v := make([]float32, d)
		for j := range v {
			v[j] = float32(shift + rng.NormFloat64()*0.5)
		}
		x[i], y[i] = v, label
	}
	return x, y
}

// fakeTextEncoder embeds "t<i>" as x[i], for the server's trainer
// without ONNX Runtime.
func fakeTextEncoder(x [][]float32, info head.EncoderInfo) *head.TextEncoder {
	return &head.TextEncoder{Info: info, Embed: func(ctx context.Context, texts []string) (head.Embedded, error) {
		out := head.Embedded{}
		for _, t := range texts {
			var i int
			fmt.Sscanf(t, "t%d", &i)
			out.Vectors = append(out.Vectors, x[i])
		}
		return out, ctx.Err()
	}}
}

func TestTrainerSaveLoadAndCheck(t *testing.T) {
	t.Parallel()
	x, y := blobs(200, 8)
	texts := make([]string, len(x))
	for i := range texts {
		texts[i] = fmt.Sprintf("t%d", i)
	}
	te := fakeTextEncoder(x, head.EncoderInfo{Name: "enc", Digest: "sha256:aaa", Pooling: "mean", MaxLength: 128})
	train := trainer(func() *head.TextEncoder { return te }, func() *servedTails { return nil })
	cfg := head.Default()
	cfg.ValFraction, cfg.TestFraction, cfg.Normalize = 0.2, 0.1, true
	var events []head.Event
	h, err := train(context.Background(), &head.Labelled{Source: "upload", Texts: texts, Labels: y}, cfg, func(e head.Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	epochs := 0
	for _, e := range events {
		if e.Stage == head.StageTraining {
			epochs++
			if e.Epoch.Step == "" || !e.Epoch.HasVal {
				t.Errorf("progress: %+v", e.Epoch)
			}
		}
	}
	if epochs == 0 || events[0].Stage != head.StageEmbedding {
		t.Errorf("progress: %d epochs, first event %+v", epochs, events[0])
	}
	info := h.Describe()
	if info.MetricsSplit != "test" || info.Metrics["accuracy"] < 0.95 || info.Curves == nil || len(info.Curves.Epoch) != epochs {
		t.Errorf("head info: %+v", info)
	}
	if info.EncoderDigest != "sha256:aaa" || info.Pooling != "mean" || !info.Normalize || info.Kind != "softmax" {
		t.Errorf("encoder recorded as %+v", info)
	}
	if got := strings.Join(h.Labels(), ","); got != "neg,pos" {
		t.Errorf("labels %s", got)
	}

	dir := t.TempDir()
	var be *encoderBackend
	store, trainFn, err := openHeads(dir, false, func() *encoderBackend { return be })
	if err != nil || trainFn == nil {
		t.Fatal(err)
	}
	if err := store.Save("blobs", h); err != nil {
		t.Fatal(err)
	}
	// The whole head in one directory: tensors, metadata, curves, mistakes.
	for _, f := range []string{head.MetaFile, head.TensorsFile, head.CurvesJSONFile, head.CurvesPNGFile} {
		if _, err := os.Stat(filepath.Join(dir, "blobs", f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	for _, tc := range []struct {
		digest string
		dim    int
		force  bool
		ok     bool
	}{
		{"sha256:aaa", 8, false, true},
		{"sha256:bbb", 8, false, false},
		{"sha256:bbb", 8, true, true},
		{"sha256:aaa", 16, true, false},
	} {
		be = &encoderBackend{info: serve.ModelInfo{Digest: tc.digest, Dim: tc.dim}}
		store, _, _ := openHeads(dir, tc.force, func() *encoderBackend { return be })
		loaded, err := store.Load("blobs")
		if (err == nil) != tc.ok {
			t.Errorf("load against %s/%d force=%v: %v", tc.digest, tc.dim, tc.force, err)
			continue
		}
		if err != nil {
			continue
		}
		p1, _ := h.PredictProba(x[:5])
		p2, _ := loaded.PredictProba(x[:5])
		for i := range p1 {
			if math.Abs(p1[i][0]-p2[i][0]) > 1e-6 {
				t.Errorf("row %d: %v before save, %v after load", i, p1[i], p2[i])
			}
		}
	}
	// A cancelled context stops training.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mlp := head.Default()
	mlp.Head, mlp.Epochs = "mlp", 50
	if _, err := train(ctx, &head.Labelled{Texts: texts, Labels: y}, mlp, func(head.Event) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("training under a cancelled context: %v", err)
	}
	// Without a loaded model, a clear error.
	if _, err := trainer(func() *head.TextEncoder { return nil }, func() *servedTails { return nil })(context.Background(), &head.Labelled{Texts: texts, Labels: y}, cfg, nil); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("training before the model loaded: %v", err)
	}
}

// TestServeEndToEnd runs `bertserve serve` on the default model: ready,
// train a head over HTTP, classify, SIGTERM exits cleanly, and a restart
// serves the saved head. It skips without the model or ONNX Runtime.
func TestServeEndToEnd(t *testing.T) {
	modelDir := filepath.Join(encoder.CacheDir(), "models", "default")
	if _, err := os.Stat(filepath.Join(modelDir, "model.onnx")); err != nil {
		t.Skipf("no default model at %s (bertserve pull default): %v", modelDir, err)
	}
	if _, err := encoder.FindLibrary(""); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	heads := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	args := []string{"--model", modelDir, "--heads", heads, "--addr", addr, "--admin-token", "e2e-admin-token", "--log-level", "warn"}

	start := func() chan error {
		done := make(chan error, 1)
		go func() { done <- cmdServe(args) }()
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := http.Get(base + "/ready")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return done
				}
			}
			select {
			case err := <-done:
				t.Fatalf("serve exited before ready: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("serve not ready within 60s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stop := func(done chan error) {
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30s of SIGTERM")
		}
	}

	done := start()
	var csv strings.Builder
	csv.WriteString("text,label\n")
	for _, adj := range []string{"wonderful", "great", "moving", "brilliant", "delightful", "superb", "charming", "excellent"} {
		for _, noun := range []string{"film", "story", "cast", "ending"} {
			fmt.Fprintf(&csv, "a %s %s,positive\n", adj, noun)
		}
	}
	for _, adj := range []string{"boring", "awful", "dull", "terrible", "tedious", "clumsy", "bland", "dreadful"} {
		for _, noun := range []string{"film", "story", "cast", "ending"} {
			fmt.Fprintf(&csv, "a %s %s,negative\n", adj, noun)
		}
	}
	req, _ := http.NewRequest("POST", base+"/v1/heads/sentiment/train", strings.NewReader(csv.String()))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer e2e-admin-token")
	var acc serve.TrainAccepted
	if code := doJSON(t, req, &acc); code != http.StatusAccepted {
		t.Fatalf("train: %d", code)
	}
	var job serve.JobView
	deadline := time.Now().Add(120 * time.Second)
	for job.State != serve.JobSucceeded {
		r, _ := http.NewRequest("GET", base+acc.URL, nil)
		doJSON(t, r, &job)
		if job.State == serve.JobFailed || job.State == serve.JobCanceled || time.Now().After(deadline) {
			t.Fatalf("job: %+v", job)
		}
		time.Sleep(100 * time.Millisecond)
	}
	classify := func() [][]serve.LabelScore {
		r, _ := http.NewRequest("POST", base+"/v1/classify", strings.NewReader(`{"inputs": ["a wonderful film", "a dreadful story"], "top_k": 2}`))
		r.Header.Set("Content-Type", "application/json")
		var out [][]serve.LabelScore
		if code := doJSON(t, r, &out); code != 200 {
			t.Fatalf("classify: %d", code)
		}
		return out
	}
	first := classify()
	if len(first) != 2 || first[0][0].Label != "positive" || first[1][0].Label != "negative" {
		t.Errorf("classify after training: %+v", first)
	}
	stop(done)

	done = start()
	again := classify()
	if again[0][0] != first[0][0] {
		t.Errorf("after a restart %+v, before %+v", again[0][0], first[0][0])
	}
	stop(done)
}

func doJSON(t *testing.T, req *http.Request, v any) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, body)
	}
	return resp.StatusCode
}
