package head

import (
	"context"
	"runtime"
	"slices"
	"testing"
)

// TestTrainTailSameBitsAnyCores trains tails large enough for every
// parallel path (products split by rows, element-wise loops by ranges,
// reductions by columns, attention by sequence and head, dropout masks
// by draws) with 1, 2 and 3 cores: the weights must be bit-identical.
func TestTrainTailSameBitsAnyCores(t *testing.T) {
	// not parallel: it sets GOMAXPROCS
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	spec := tinySpec(2, LayoutPostLN)
	spec.Hidden, spec.Heads, spec.Intermediate, spec.Normalize = 60, 4, 250, true // odd sizes: splits fall inside vectors
	base := randomTail(spec, 11)
	train, val := seqTask(192, 60, 12), seqTask(64, 60, 13)
	for _, mode := range []string{TuneLoRA, TuneTop} {
		cfg := tuneCfg(mode)
		cfg.Epochs, cfg.BatchSize = 2, 64
		if mode == TuneTop {
			cfg.Unfreeze = UnfreezeGradual
		}
		var ref *TailWeights
		var refHead []float32
		for _, procs := range []int{1, 2, 3} {
			runtime.GOMAXPROCS(procs)
			m, _, err := TrainTail(context.Background(), train, val, base, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			tw := m.Tail()
			hw := m.net.seq.Params()[0].W
			if ref == nil {
				ref, refHead = tw, slices.Clone(hw)
				continue
			}
			for j := range tw.Layers {
				for name, v := range tw.Layers[j] {
					if !slices.Equal(v, ref.Layers[j][name]) {
						t.Fatalf("%s: layer %d %s differs between 1 and %d cores", mode, j, name, procs)
					}
				}
			}
			if !slices.Equal(hw, refHead) {
				t.Fatalf("%s: head weights differ between 1 and %d cores", mode, procs)
			}
		}
	}
}
