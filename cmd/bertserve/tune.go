package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/models"
)

// tuneFlags are train's flags for training inside the encoder.
type tuneFlags struct {
	layers      string
	targets     string
	hiddenDType string
}

// parseLayers reads --layers: a count, or "all" (every trainable layer).
func parseLayers(s string, max int) (int, error) {
	if s == "all" {
		return max, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, usagef("--layers %q: want a number of top layers (1, 2, ...) or all", s)
	}
	return n, nil
}

// trainTuned is `bertserve train --tune lora|top`: the one pipeline
// (head.Pipeline) with the encoder's layers and hidden-state cache as its
// TailSource; the bottom of the encoder runs once per text, the top layers
// and the head train in Go, and the head directory gets tail.onnx.
func trainTuned(ctx context.Context, ef *encoderFlags, df *dataFlags, tf *tuneFlags, cfg head.TrainConfig, out string) error {
	if df.fromEmbeddings() {
		return usagef("--tune %s trains the encoder's own layers, which needs the texts (--data FILE), not --embeddings", cfg.Tune)
	}
	in, err := df.readInputs(cfg)
	if err != nil {
		return err
	}
	enc, err := ef.open()
	if err != nil {
		return err
	}
	defer enc.Close()
	sp := newSplitModel(enc, ef.model)
	defer sp.Close()
	sm, err := sp.model()
	if err != nil {
		return err
	}
	if cfg.Layers, err = parseLayers(tf.layers, sm.MaxTrainable); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	src := &tuneSource{sp: sp, dtype: tf.hiddenDType, noCache: df.noCache, log: os.Stderr}
	if df.cacheDir != "" {
		src.cacheDir = filepath.Join(df.cacheDir, "hidden")
	}
	defer src.Close()
	ei := enc.Info()
	what := fmt.Sprintf("LoRA (r=%d, alpha %g, dropout %g, on %s)", cfg.LoRARank, cfg.LoRAAlpha, cfg.LoRADropout, strings.Join(cfg.LoRATargets, ", "))
	if cfg.Tune == head.TuneTop {
		what = fmt.Sprintf("unfrozen (layer-wise LR decay %g, unfreeze %s)", cfg.LayerLRDecay, cfg.Unfreeze)
	}
	L := sm.Layers
	p := head.Pipeline{
		Config:  cfg,
		Encoder: &head.TextEncoder{Info: headEncoderInfo(ei, ef.model)},
		Tails:   src.source(),
		Progress: func(e head.Event) {
			switch e.Stage {
			case head.StageSplit:
				if e.Split {
					fmt.Fprintf(os.Stderr, "stratified split: %d train, %d validation, %d test rows\n", e.TrainRows, e.ValRows, e.TestRows)
				}
				fmt.Fprintf(os.Stderr, "training a %s head with encoder layers %d..%d of %d %s on %d rows\n",
					cfg.Head, L-cfg.Layers, L-1, L, what, e.TrainRows)
			case head.StageTraining:
				printEpoch(*e.Epoch)
			}
		},
	}
	t, err := p.Run(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; %s was not written", out)
		}
		return err
	}
	m, rep := t.Model, t.Report
	tailGraph, err := buildTailGraph(m, ei.Digest)
	if err != nil {
		return err
	}
	// The ONNX tail must compute what the Go tail trained.
	if err := checkTailGraph(sp, tailGraph, m, src.firstView()); err != nil {
		return err
	}
	report := os.Stdout
	meta := m.Meta()
	for _, part := range []struct {
		name string
		ds   *head.Dataset
	}{{"train", t.Train}, {"validation", t.Val}, {"test", t.Test}} {
		mt := meta.Metrics[part.name]
		if mt == nil {
			continue
		}
		if part.name == "train" {
			fmt.Fprintf(report, "\ntrain accuracy %.4f, log loss %.4f\n", mt.Accuracy, mt.LogLoss)
			continue
		}
		fmt.Fprintf(report, "\n%s metrics (%d rows):\n", part.name, part.ds.Len())
		mt.WriteTable(report)
	}
	// tail.onnx goes into the same temporary directory as the rest of the
	// head, before the one swap: a kill leaves the old head or the new one.
	if err := t.Save(out, head.SaveOptions{Files: map[string][]byte{tailFile: tailGraph}}); err != nil {
		return err
	}
	k := meta.Tail.FirstLayer
	fmt.Fprintf(report, "\nfit: %s\n", rep.Diagnosis.String())
	fmt.Fprintf(report, "params: head %d, encoder layers %d..%d: %d trainable; adamw, %d epochs in %.1fs\n",
		rep.Params.Head, k, L-1, rep.Params.Tail, rep.Result.Epochs, rep.Duration.Seconds())
	fmt.Fprintf(report, "head saved to %s (with %s, encoder layers %d..%d); curves: %s, %s\n", out, tailFile, k, L-1,
		filepath.Join(out, head.CurvesPNGFile), filepath.Join(out, head.CurvesJSONFile))
	return nil
}

// buildTailGraph writes a trained head's merged tail as an ONNX graph and
// records its digest and the base encoder's in the head.
func buildTailGraph(m *head.Model, encoderDigest string) ([]byte, error) {
	g, err := models.BuildTail(modelTail(m.Tail()), models.TailGraphOptions{Name: "head_tail"})
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", tailFile, err)
	}
	data, err := g.Marshal()
	if err != nil {
		return nil, err
	}
	if err := m.SetTailDigests(encoderDigest, sha256Hex(data)); err != nil {
		return nil, err
	}
	return data, nil
}

// checkTailGraph compares the ONNX tail with the Go tail the head
// trained, on the cached hidden states of up to 32 texts of s: both must
// compute the same embeddings (within 1e-5).
func checkTailGraph(sp *splitModel, graph []byte, m *head.Model, seqs head.Sequences) error {
	if seqs == nil || seqs.Len() == 0 {
		return nil
	}
	n := min(32, seqs.Len())
	t, err := sp.enc.OpenTail(graph)
	if err != nil {
		return err
	}
	defer t.Close()
	first := prefixSeqs{seqs, n}
	got, err := t.EmbedSeqs(first)
	if err != nil {
		return err
	}
	want, err := m.EmbedSeq(first)
	if err != nil {
		return err
	}
	worst := 0.0
	for i := range want {
		for j, x := range want[i] {
			worst = max(worst, math.Abs(float64(x)-float64(got[i][j])))
		}
	}
	if worst > 1e-5 {
		return fmt.Errorf("internal check failed: %s and the trained Go tail differ by %.3g on %d texts; please report this", tailFile, worst, n)
	}
	return nil
}

// prefixSeqs is the first n sequences of s.
type prefixSeqs struct {
	s head.Sequences
	n int
}

func (p prefixSeqs) Len() int    { return p.n }
func (p prefixSeqs) Hidden() int { return p.s.Hidden() }
func (p prefixSeqs) Row(i int, dst []float32) ([]float32, int) {
	return p.s.Row(i, dst)
}
