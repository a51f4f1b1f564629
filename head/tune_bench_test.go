package head

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// benchShape is an encoder's layer shape and the text lengths of a
// training batch drawn for it.
type benchShape struct {
	name                 string
	hidden, heads, inter int
	layers               int
	minLen, maxLen       int
}

// The encoders of issue 10's measurements: all-MiniLM-L6-v2 on SST-2
// (sentences of 25–55 tokens) and bge-small-zh-v1.5 on ChnSentiCorp
// (reviews of 100–250 characters, one token each).
var benchShapes = []benchShape{
	{"minilm", 384, 12, 1536, 6, 25, 55},
	{"bgezh", 512, 8, 2048, 4, 100, 250},
}

// BenchmarkTuneStep times one training step (forward and backward of N
// layers, pooling and a softmax head, then clipping and AdamW) on a
// batch of 32 texts at the shapes of benchShapes, and reports the
// products' rate: the GEMM FLOPs of the step (counted below, the same
// count whatever the implementation) per second of wall time and per
// second of CPU time used by the process (cpu-ms/step; on a shared
// machine the CPU time is what the step cost, the wall time also holds
// the waits for a core).
//
//	go test -run XXX -bench TuneStep -benchtime 5x ./head/
func BenchmarkTuneStep(b *testing.B) {
	for _, sh := range benchShapes {
		for _, tc := range []struct {
			mode string
			n    int
		}{{TuneLoRA, 1}, {TuneLoRA, 2}, {TuneLoRA, sh.layers}, {TuneTop, 1}, {TuneTop, 2}} {
			b.Run(fmt.Sprintf("%s/%s/N=%d", sh.name, tc.mode, tc.n), func(b *testing.B) {
				benchTuneStep(b, sh, tc.mode, tc.n)
			})
		}
	}
}

func benchTuneStep(b *testing.B, sh benchShape, mode string, N int) {
	H := sh.hidden
	spec := TailSpec{Layout: LayoutPostLN, Hidden: H, Heads: sh.heads, Intermediate: sh.inter, LayerNormEps: 1e-12,
		Activation: ActGELU, Pooling: PoolMean, Normalize: true, HiddenDropout: 0.1, AttentionDropout: 0.1, TotalLayers: sh.layers}
	r := rand.New(rand.NewPCG(1, 2))
	const batch = 32
	var lens []int
	tokens := 0
	for i := 0; i < batch; i++ {
		lens = append(lens, sh.minLen+r.IntN(sh.maxLen-sh.minLen+1))
		tokens += lens[i]
	}
	spec.NumLayers, spec.FirstLayer = N, sh.layers-N
	base := randomTail(spec, 3)
	seqs := &memSeqs{h: H}
	for _, T := range lens {
		row := make([]float32, T*H)
		for i := range row {
			row[i] = float32(r.NormFloat64())
		}
		seqs.rows = append(seqs.rows, row)
	}
	cfg := Default()
	cfg.Tune, cfg.Layers = mode, N
	tail, err := buildTail[float32](base, cfg, nn.NewRNG(1), nn.NewRNG(2))
	if err != nil {
		b.Fatal(err)
	}
	setTrainable(tail, cfg, N)
	net, _ := buildNetwork[float32](archOf(cfg, H, 2), 1)
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
	step := func() {
		if err := sb.pack(seqs, idx); err != nil {
			b.Fatal(err)
		}
		tr.tailGrad(tail, &sb, y, batch, grad)
		tr.update(opt, 1e-4)
	}
	step() // first-use allocations
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		step()
	}
	cpu := processCPU() - cpu0
	flops := tuneStepFlops(float64(H), float64(sh.inter), tokens, lens, mode, N) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOPS")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/step")
	if cpu > 0 {
		b.ReportMetric(cpu/float64(b.N)*1e3, "cpu-ms/step")
		b.ReportMetric(flops/cpu/1e9, "GFLOPS/cpu-s")
	}
	b.ReportMetric(float64(tokens), "tokens")
}

// tuneStepFlops counts the GEMM FLOPs a step needs: forward 2·ΣT·(4H²+2HI)
// + 4·ΣT²·H per layer; the backward repeats the projections once for dX
// (not Q, K, V of the lowest layer) and, with top, once for dW;
// attention's backward is twice its forward. LoRA's rank-8 products are
// left out.
func tuneStepFlops(H, I float64, tokens int, lens []int, mode string, N int) float64 {
	lin := 2 * float64(tokens) * (4*H*H + 2*H*I)
	var att float64
	for _, T := range lens {
		att += 4 * float64(T*T) * H
	}
	n := float64(N)
	flops := n*(lin+att) + n*(lin+2*att) - 3*2*float64(tokens)*H*H
	if mode == TuneTop {
		flops += n * lin
	}
	return flops
}
