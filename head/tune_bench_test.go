package head

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// BenchmarkTuneStep times one training step (forward and backward of N
// layers, pooling and a softmax head, then clipping and AdamW) at
// all-MiniLM-L6-v2's shapes (H 384, 12 heads, I 1536) on a batch of 32
// texts of 25–55 tokens (SST-2-like), and reports the products' rate:
// the GEMM FLOPs of the step (counted below) per second.
func BenchmarkTuneStep(b *testing.B) {
	spec := TailSpec{Layout: LayoutPostLN, Hidden: 384, Heads: 12, Intermediate: 1536, LayerNormEps: 1e-12,
		Activation: ActGELU, Pooling: PoolMean, Normalize: true, HiddenDropout: 0.1, AttentionDropout: 0.1, TotalLayers: 6}
	r := rand.New(rand.NewPCG(1, 2))
	const batch = 32
	var lens []int
	tokens := 0
	for i := 0; i < batch; i++ {
		lens = append(lens, 25+r.IntN(31))
		tokens += lens[i]
	}
	for _, tc := range []struct {
		mode string
		n    int
	}{{TuneLoRA, 1}, {TuneLoRA, 2}, {TuneLoRA, 6}, {TuneTop, 1}, {TuneTop, 2}} {
		b.Run(fmt.Sprintf("%s/N=%d", tc.mode, tc.n), func(b *testing.B) {
			s := spec
			s.NumLayers, s.FirstLayer = tc.n, 6-tc.n
			base := randomTail(s, 3)
			seqs := &memSeqs{h: 384}
			for _, T := range lens {
				row := make([]float32, T*384)
				for i := range row {
					row[i] = float32(r.NormFloat64())
				}
				seqs.rows = append(seqs.rows, row)
			}
			cfg := Default()
			cfg.Tune, cfg.Layers = tc.mode, tc.n
			tail, err := buildTail[float32](base, cfg, nn.NewRNG(1), nn.NewRNG(2))
			if err != nil {
				b.Fatal(err)
			}
			setTrainable(tail, cfg, tc.n)
			net, _ := buildNetwork[float32](archOf(cfg, 384, 2), 1)
			tr := &trainer{cfg: cfg, ce: nn.CrossEntropy{}, net: net, labels: []string{"a", "b"}}
			tr.params = append(tail.Params(), net.seq.Params()...)
			opt := nn.NewAdamW[float32](cfg.WeightDecay)
			var sb seqBatch
			idx := make([]int, batch)
			y := make([]int, batch)
			for i := range idx {
				idx[i], y[i] = i, i%2
			}
			grad := nn.NewMat[float32](batch, 2)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := sb.pack(seqs, idx); err != nil {
					b.Fatal(err)
				}
				tr.tailGrad(tail, &sb, y, batch, grad)
				tr.update(opt, 1e-4)
			}
			// GEMM FLOPs: forward 2·ΣT·(4H²+2HI) + 4·ΣT²·H per layer; the
			// backward repeats the projections once for dX (not Q, K, V of
			// the lowest layer) and, with top, once for dW; attention's
			// backward is twice its forward.
			H, I := 384.0, 1536.0
			lin := 2 * float64(tokens) * (4*H*H + 2*H*I)
			var att float64
			for _, T := range lens {
				att += 4 * float64(T*T) * H
			}
			n := float64(tc.n)
			flops := n*(lin+att) + n*(lin+2*att) - 3*2*float64(tokens)*H*H
			if tc.mode == TuneTop {
				flops += n * lin
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/step")
		})
	}
}
