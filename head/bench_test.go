package head

import (
	"context"
	"sync"
	"testing"
)

// The benchmark matrix: 60,000 × 384, the size of the GLUE SST-2 training
// set embedded by a MiniLM-class encoder. Built once, shared.
var (
	benchOnce sync.Once
	benchData *Dataset
)

func benchSet(b *testing.B) *Dataset {
	benchOnce.Do(func() { benchData = blobs(60000, 384, 2, 1.5, 99) })
	return benchData
}

// BenchmarkMLPEpoch is one AdamW epoch of the default MLP head (384 →
// 256 GELU → 2, dropout 0.1, batch 128) over 60k rows, no validation.
func BenchmarkMLPEpoch(b *testing.B) {
	d := benchSet(b)
	c := Default()
	c.Head, c.Epochs = HeadMLP, 1
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := Train(context.Background(), d, nil, c, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.Len())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSoftmaxFit fits the softmax head by L-BFGS to convergence on
// the same 60k × 384 matrix.
func BenchmarkSoftmaxFit(b *testing.B) {
	d := benchSet(b)
	c := Default()
	b.ResetTimer()
	var iters int
	for i := 0; i < b.N; i++ {
		_, rep, err := Train(context.Background(), d, nil, c, nil)
		if err != nil {
			b.Fatal(err)
		}
		iters = rep.Result.Epochs
	}
	b.ReportMetric(float64(iters), "iterations")
}
