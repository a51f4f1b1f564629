package main

import (
	"context"
	"errors"
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

// textSplit is one labelled text set with its label indexes.
type textSplit struct {
	name   string
	texts  []string
	labels []string
	y      []int
	seqs   head.Sequences
}

func (s *textSplit) subset(idx []int) *textSplit {
	o := &textSplit{name: s.name}
	for _, i := range idx {
		o.texts = append(o.texts, s.texts[i])
		o.labels = append(o.labels, s.labels[i])
		o.y = append(o.y, s.y[i])
	}
	return o
}

func (s *textSplit) dataset(labels []string) *head.SeqDataset {
	return &head.SeqDataset{X: s.seqs, Y: s.y, Labels: labels, Texts: s.texts}
}

// trainTuned is `bertserve train --tune lora|top`: the bottom of the
// encoder runs once per text into the hidden-state cache, then the top
// layers and the head train in Go; the head directory gets tail.onnx.
func trainTuned(ctx context.Context, ef *encoderFlags, df *dataFlags, tf *tuneFlags, cfg head.TrainConfig, out string) error {
	if df.fromEmbeddings() {
		return usagef("--tune %s trains the encoder's own layers, which needs the texts (--data FILE), not --embeddings", cfg.Tune)
	}
	var parts []*textSplit
	for _, s := range []struct{ name, path string }{{"train", df.data}, {"validation", df.val}, {"test", df.test}} {
		if s.path == "" {
			continue
		}
		l, err := readLabelled(s.name, s.path, cfg.ReadOptions())
		if err != nil {
			return err
		}
		parts = append(parts, &textSplit{name: s.name, texts: l.Texts, labels: l.Labels})
	}
	labels, err := head.LabelNames(parts[0].labels)
	if err != nil {
		return fmt.Errorf("train data: %w", err)
	}
	for _, p := range parts {
		if p.y, err = head.EncodeLabels(p.labels, labels); err != nil {
			var ul *head.UnknownLabelError
			if errors.As(err, &ul) {
				return fmt.Errorf("%s data, row %d: label %q is not one the head knows (labels: %s)", p.name, ul.Row, ul.Label, strings.Join(ul.Known, ", "))
			}
			return fmt.Errorf("%s data: %w", p.name, err)
		}
	}
	train, val, test := parts[0], (*textSplit)(nil), (*textSplit)(nil)
	for _, p := range parts[1:] {
		if p.name == "validation" {
			val = p
		} else {
			test = p
		}
	}
	if val == nil && test == nil {
		ti, vi, si, err := head.StratifiedSplit(train.y, len(labels), cfg.Split(), cfg.Seed)
		if err != nil {
			return usagef("%v", err)
		}
		all := train
		train = all.subset(ti)
		if len(vi) > 0 {
			val = all.subset(vi)
			val.name = "validation"
		}
		if len(si) > 0 {
			test = all.subset(si)
			test.name = "test"
		}
		fmt.Fprintf(os.Stderr, "stratified split of %s: %d train, %d validation, %d test rows\n", df.data, len(train.texts), lenText(val), lenText(test))
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
	src := &tuneSource{sp: sp, cacheDir: df.cacheDir, dtype: tf.hiddenDType, noCache: df.noCache, log: os.Stderr}
	if df.cacheDir != "" {
		src.cacheDir = filepath.Join(df.cacheDir, "hidden")
	}
	defer src.Close()
	base, err := src.base(cfg.Layers)
	if err != nil {
		return err
	}
	k := base.Spec.FirstLayer
	// One pass of the bottom over every text, then a view per part.
	var all []string
	for _, p := range []*textSplit{train, val, test} {
		if p != nil {
			all = append(all, p.texts...)
		}
	}
	if _, err := src.hidden(ctx, all, k); err != nil {
		return err
	}
	src.quiet = true
	for _, p := range []*textSplit{train, val, test} {
		if p == nil {
			continue
		}
		if p.seqs, err = src.hidden(ctx, p.texts, k); err != nil {
			return err
		}
	}
	ei := enc.Info()
	encInfo := headEncoderInfo(ei, ef.model)
	what := fmt.Sprintf("LoRA (r=%d, alpha %g, dropout %g, on %s)", cfg.LoRARank, cfg.LoRAAlpha, cfg.LoRADropout, strings.Join(cfg.LoRATargets, ", "))
	if cfg.Tune == head.TuneTop {
		what = fmt.Sprintf("unfrozen (layer-wise LR decay %g, unfreeze %s)", cfg.LayerLRDecay, cfg.Unfreeze)
	}
	fmt.Fprintf(os.Stderr, "training a %s head with encoder layers %d..%d of %d %s on %d texts, %d classes (%s)\n",
		cfg.Head, k, base.Spec.TotalLayers-1, base.Spec.TotalLayers, what, len(train.texts), len(labels), strings.Join(labels, ", "))

	var valDS *head.SeqDataset
	if val != nil {
		valDS = val.dataset(labels)
	}
	m, rep, err := head.TrainTail(ctx, train.dataset(labels), valDS, base, cfg, printEpoch)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; %s was not written", out)
		}
		return err
	}
	m.SetEncoder(encInfo)
	tailGraph, err := buildTailGraph(m, ei.Digest)
	if err != nil {
		return err
	}
	// The ONNX tail must compute what the Go tail trained.
	if err := checkTailGraph(sp, tailGraph, m, pickText(val, train)); err != nil {
		return err
	}
	report := os.Stdout
	var evalDS *head.Dataset
	for _, p := range []*textSplit{train, val, test} {
		if p == nil {
			continue
		}
		ds, err := head.EmbedSeqDataset(m, p.dataset(labels))
		if err != nil {
			return err
		}
		mt, err := head.Evaluate(m, ds)
		if err != nil {
			return err
		}
		m.SetMetrics(p.name, mt)
		if p.name == "train" {
			fmt.Fprintf(report, "\ntrain accuracy %.4f, log loss %.4f\n", mt.Accuracy, mt.LogLoss)
			continue
		}
		fmt.Fprintf(report, "\n%s metrics (%d rows):\n", p.name, ds.Len())
		mt.WriteTable(report)
		evalDS = ds
	}
	t := &head.Trained{Model: m, Report: rep}
	if evalDS != nil && cfg.Errors > 0 {
		if t.Mistakes, err = head.ErrorAnalysis(m, evalDS, cfg.Errors); err != nil {
			return err
		}
	}
	// tail.onnx goes into the same temporary directory as the rest of the
	// head, before the one swap: a kill leaves the old head or the new one.
	if err := t.Save(out, head.SaveOptions{Files: map[string][]byte{tailFile: tailGraph}}); err != nil {
		return err
	}
	fmt.Fprintf(report, "\nfit: %s\n", rep.Diagnosis.String())
	fmt.Fprintf(report, "params: head %d, encoder layers %d trainable (%d layers kept in the tail); adamw, %d epochs in %.1fs\n",
		rep.Params.Head, rep.Params.Tail, base.Spec.NumLayers, rep.Result.Epochs, rep.Duration.Seconds())
	fmt.Fprintf(report, "head saved to %s (with %s, encoder layers %d..%d); curves: %s, %s\n", out, tailFile, k, base.Spec.TotalLayers-1,
		filepath.Join(out, head.CurvesPNGFile), filepath.Join(out, head.CurvesJSONFile))
	return nil
}

func lenText(s *textSplit) int {
	if s == nil {
		return 0
	}
	return len(s.texts)
}

func pickText(a, b *textSplit) *textSplit {
	if a != nil {
		return a
	}
	return b
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
func checkTailGraph(sp *splitModel, graph []byte, m *head.Model, s *textSplit) error {
	n := min(32, len(s.texts))
	if n == 0 {
		return nil
	}
	t, err := sp.enc.OpenTail(graph)
	if err != nil {
		return err
	}
	defer t.Close()
	seqs := prefixSeqs{s.seqs, n}
	got, err := t.EmbedSeqs(seqs)
	if err != nil {
		return err
	}
	want, err := m.EmbedSeq(seqs)
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
