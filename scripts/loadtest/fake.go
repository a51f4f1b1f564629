package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/bertserve/bertserve/serve"
)

// synthetic is an encoder whose cost is a fixed 2 ms per call plus 20 µs
// per token, like an ONNX Runtime session's per-call overhead plus its
// per-token work. It sleeps rather than computes, so it shows the
// batcher's effect, not CPU throughput; use a real model for numbers.
type synthetic struct{}

const syntheticDim = 64

func (synthetic) Embed(ctx context.Context, texts []string) (*serve.Embeddings, error) {
	tokens := 0
	res := &serve.Embeddings{Vectors: make([][]float32, len(texts)), TokenCounts: make([]int, len(texts))}
	for i, t := range texts {
		n := len(strings.Fields(t)) + 2
		tokens += n
		res.TokenCounts[i] = n
		v := make([]float32, syntheticDim)
		for j := 0; j < len(t); j++ {
			v[j%syntheticDim] += float32(t[j]) / 256
		}
		res.Vectors[i] = v
	}
	d := 2*time.Millisecond + time.Duration(tokens)*20*time.Microsecond
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res.InferenceTime = d
	return res, nil
}

func (synthetic) Tokenize(text string, maxLen int) serve.Tokens {
	words := strings.Fields(text)
	t := serve.Tokens{IDs: make([]int64, len(words)+2)}
	if maxLen > 0 && len(t.IDs) > maxLen {
		t.IDs, t.Truncated = t.IDs[:maxLen], true
	}
	return t
}

func (synthetic) Info() serve.ModelInfo {
	return serve.ModelInfo{Name: "synthetic", Dim: syntheticDim, MaxLength: 128, Pooling: "mean", Device: "none"}
}

// stump is a two-label head: the sign of the first component.
type stump struct{}

func (stump) Labels() []string { return []string{"negative", "positive"} }
func (stump) Dim() int         { return syntheticDim }
func (stump) Describe() serve.HeadInfo {
	return serve.HeadInfo{Kind: "softmax"}
}
func (stump) PredictProba(x [][]float32) ([][]float64, error) {
	out := make([][]float64, len(x))
	for i, v := range x {
		p := 0.25
		if v[0] > 1 {
			p = 0.75
		}
		out[i] = []float64{1 - p, p}
	}
	return out, nil
}

func startFake(maxBatchRequests int) (string, func(), error) {
	srv, err := serve.New(serve.Config{
		Embedder:         synthetic{},
		Logger:           slog.New(slog.DiscardHandler),
		MaxBatchRequests: maxBatchRequests,
	})
	if err != nil {
		return "", nil, err
	}
	if _, err := srv.Heads().Put("synthetic", stump{}); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(ln)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}
