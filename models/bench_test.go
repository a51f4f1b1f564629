package models

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bertserve/bertserve/models/internal/orttest"
)

var benchModels struct {
	once  sync.Once
	cfg   *Config
	model []byte
	err   error
}

// BenchmarkMiniLM times one forward pass of a MiniLM-L6-H384-shaped
// encoder (random weights) in ONNX Runtime at two batch shapes and thread
// counts; the seq/s metric is batch size over the time per batch. On a
// quiet 16-core Xeon: b32s32 ≈ 190 ms (1 thread), 58 ms (4 threads).
func BenchmarkMiniLM(b *testing.B) {
	orttest.Require(b)
	bm := &benchModels
	bm.once.Do(func() {
		bm.cfg, bm.err = LoadConfig(filepath.Join("testdata", "configs", "minilm-l6-h384.json"))
		if bm.err != nil {
			return
		}
		bm.model, bm.err = BuildONNX(bm.cfg, RandomWeights(bm.cfg, 1))
	})
	if bm.err != nil {
		b.Fatal(bm.err)
	}
	for _, threads := range []int{1, 4} {
		for _, shape := range [][2]int{{32, 32}, {8, 128}} {
			B, S := shape[0], shape[1]
			b.Run(fmt.Sprintf("threads=%d/b%ds%d", threads, B, S), func(b *testing.B) {
				sess, err := orttest.NewSession(bm.model, []string{InputIDs, InputMask, InputTypeIDs}, []string{OutputHidden}, &orttest.Options{Threads: threads})
				if err != nil {
					b.Fatal(err)
				}
				defer sess.Close()
				ids := make([]int64, B*S)
				mask := make([]int64, B*S)
				for i := range ids {
					ids[i] = int64(1000 + i%997)
					mask[i] = 1
				}
				shape := []int64{int64(B), int64(S)}
				in := []orttest.Input{
					{Name: InputIDs, Shape: shape, Int64: ids},
					{Name: InputMask, Shape: shape, Int64: mask},
					{Name: InputTypeIDs, Shape: shape, Int64: make([]int64, B*S)},
				}
				if _, err := sess.Run(in); err != nil { // warm up
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := sess.Run(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(B*b.N)/b.Elapsed().Seconds(), "seq/s")
			})
		}
	}
}
