package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/bertserve/bertserve/head"
)

func cmdTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var ef encoderFlags
	ef.register(fs)
	cfg := head.Default()
	var df dataFlags
	registerDataFlags(fs, &df, &cfg)
	fs.StringVar(&df.val, "val", "", "validation file (default: a stratified split of --data)")
	fs.StringVar(&df.test, "test", "", "test file (default: a stratified split of --data)")
	fs.StringVar(&df.valEmbeddings, "val-embeddings", "", "validation .npy or shard directory (with --val-labels)")
	fs.StringVar(&df.valLabels, "val-labels", "", "validation labels, one per line")
	fs.StringVar(&df.testEmbeddings, "test-embeddings", "", "test .npy or shard directory (with --test-labels)")
	fs.StringVar(&df.testLabels, "test-labels", "", "test labels, one per line")
	out := fs.String("out", "", "head directory to write (replaced atomically)")
	fs.Func("split", "train/val/test percentages when --val/--test are not given (default 80/10/10)", func(v string) error {
		sp, err := head.ParseSplit(v)
		cfg.ValFraction, cfg.TestFraction = sp.Val, sp.Test
		return err
	})
	fs.IntVar(&cfg.Errors, "errors", cfg.Errors, "write the N most confident mistakes of the test (else validation) set to errors.jsonl")

	fs.StringVar(&cfg.Head, "head", cfg.Head, "head: softmax (logistic regression) or mlp")
	fs.Func("hidden", "MLP hidden widths, one or two: 256 or 512,128 (default 256)", func(v string) error {
		w, err := parseInts(v)
		cfg.Hidden = w
		return err
	})
	fs.StringVar(&cfg.Activation, "activation", cfg.Activation, "MLP activation: gelu or relu")
	fs.Float64Var(&cfg.Dropout, "dropout", cfg.Dropout, "MLP dropout")
	fs.StringVar(&cfg.Optimizer, "optimizer", cfg.Optimizer, "adamw, lbfgs (softmax only), or auto")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "AdamW epochs")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "AdamW minibatch size")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "AdamW peak learning rate")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "AdamW decoupled weight decay, or the L2 strength of L-BFGS")
	fs.Float64Var(&cfg.Warmup, "warmup", cfg.Warmup, "fraction of steps with linear warm-up")
	fs.StringVar(&cfg.Schedule, "schedule", cfg.Schedule, "after warm-up: linear, cosine or constant")
	fs.Float64Var(&cfg.Clip, "clip", cfg.Clip, "global gradient-norm clip (0: off)")
	fs.Float64Var(&cfg.LabelSmoothing, "label-smoothing", cfg.LabelSmoothing, "label smoothing epsilon")
	fs.StringVar(&cfg.ClassWeight, "class-weight", "", "class weights: balanced, or label=w,label=w")
	fs.IntVar(&cfg.Patience, "patience", cfg.Patience, "early stopping patience in epochs (0: off)")
	fs.Float64Var(&cfg.MinDelta, "min-delta", cfg.MinDelta, "smallest improvement that resets patience")
	fs.StringVar(&cfg.Monitor, "monitor", cfg.Monitor, "early stopping on val_loss or a metric: accuracy, macro_f1, auc")
	fs.IntVar(&cfg.MaxIter, "max-iter", cfg.MaxIter, "L-BFGS iteration limit")
	fs.Float64Var(&cfg.Tol, "tol", cfg.Tol, "L-BFGS stops when the largest gradient component falls below this")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for the split, initialisation, shuffling and dropout")
	var tf tuneFlags
	fs.StringVar(&cfg.Tune, "tune", cfg.Tune, "train inside the encoder: none (the head only, on pooled embeddings), lora (low-rank updates of the top --layers), top (the top --layers unfrozen)")
	fs.StringVar(&tf.layers, "layers", strconv.Itoa(cfg.Layers), "with --tune: how many top encoder layers to train, or all")
	fs.IntVar(&cfg.LoRARank, "lora-rank", cfg.LoRARank, "--tune lora: rank r of each update B·A")
	fs.Float64Var(&cfg.LoRAAlpha, "lora-alpha", cfg.LoRAAlpha, "--tune lora: scale alpha (updates scaled by alpha/r)")
	fs.Float64Var(&cfg.LoRADropout, "lora-dropout", cfg.LoRADropout, "--tune lora: dropout on the LoRA branch's input")
	fs.StringVar(&tf.targets, "lora-targets", strings.Join(cfg.LoRATargets, ","), "--tune lora: projections to update: query, key, value, attention.output, intermediate, output, or all")
	fs.Float64Var(&cfg.LayerLRDecay, "layer-lr-decay", cfg.LayerLRDecay, "--tune top: each layer down trains at this times the rate of the one above (1: all the same)")
	fs.StringVar(&cfg.Unfreeze, "unfreeze", cfg.Unfreeze, "--tune top: all (every layer from the start) or gradual (the top layer first, one more each epoch)")
	fs.StringVar(&tf.hiddenDType, "hidden-dtype", "float16", "--tune: how the hidden-state cache stores states: float16 or float32")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bertserve train --model DIR --data FILE [--val FILE] [--test FILE] --out HEADDIR [flags]")
		fmt.Fprintln(fs.Output(), "       bertserve train --embeddings X.npy --labels y.txt [--val-embeddings ...] --out HEADDIR [flags]")
		fs.PrintDefaults()
	}
	if err := removedAdapterFlags(args); err != nil {
		return err
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *out == "" {
		return usagef("--out HEADDIR is required")
	}
	if err := df.check(); err != nil {
		return err
	}
	cfg.LoRATargets = strings.Split(tf.targets, ",")
	cfg.Normalize = ef.normalize
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.Tuned() {
		return trainTuned(ctx, &ef, &df, &tf, cfg, *out)
	}

	in, err := df.readInputs(cfg)
	if err != nil {
		return err
	}
	p := head.Pipeline{Config: cfg}
	progress := []func(head.Event){printEvent(&cfg)}
	if in.Train != nil {
		enc, err := ef.open()
		if err != nil {
			return err
		}
		defer enc.Close()
		te, closeCache, err := df.textEncoder(enc, ef.model)
		if err != nil {
			return err
		}
		defer closeCache()
		p.Encoder = te
		progress = append(progress, embedProgress(enc.Info().MaxLength, df.noCache))
	}
	p.Progress = func(e head.Event) {
		for _, f := range progress {
			f(e)
		}
	}
	t, err := p.Run(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; %s was not written", *out)
		}
		return err
	}
	report := os.Stdout
	meta := t.Model.Meta()
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
	if err := t.Save(*out); err != nil {
		return err
	}
	rep := t.Report
	fmt.Fprintf(report, "\nfit: %s\n", rep.Diagnosis.String())
	fmt.Fprintf(report, "params: head %d; %s, %d %ss in %.1fs\n", rep.Params.Head,
		rep.Result.Optimizer, rep.Result.Epochs, stepName(rep), rep.Duration.Seconds())
	fmt.Fprintf(report, "head saved to %s; curves: %s, %s\n", *out, filepath.Join(*out, head.CurvesPNGFile), filepath.Join(*out, head.CurvesJSONFile))
	return nil
}

// registerDataFlags are the flags that choose labelled data, shared by
// train and eval; column and label options fill cfg.
func registerDataFlags(fs *flag.FlagSet, df *dataFlags, cfg *head.TrainConfig) {
	fs.StringVar(&df.data, "data", "", "labelled data: .csv, .tsv (header row) or .jsonl")
	fs.StringVar(&cfg.TextColumn, "text-col", "", "text column (default: the first text-like column)")
	fs.StringVar(&cfg.LabelColumn, "label-col", "", "label column (default: detected, e.g. label)")
	fs.Func("label-names", "rename raw labels, e.g. 0=negative,1=positive", func(v string) error {
		m, err := head.ParseLabelNames(v)
		cfg.LabelNames = m
		return err
	})
	fs.StringVar(&df.embeddings, "embeddings", "", "an .npy embedding matrix, or a directory of embed shards (part-0000I-of-0000N.npy), instead of text (with --labels)")
	fs.StringVar(&df.labels, "labels", "", "labels of --embeddings, one per line")
	fs.BoolVar(&df.noCache, "no-cache", false, "do not read or write the embedding cache")
	fs.StringVar(&df.cacheDir, "cache-dir", "", "embedding cache folder (default: the bertserve cache)")
}

// printEvent prints the pipeline's progress as train always has.
func printEvent(cfg *head.TrainConfig) func(head.Event) {
	return func(e head.Event) {
		switch e.Stage {
		case head.StageSplit:
			if e.Split {
				fmt.Fprintf(os.Stderr, "stratified split: %d train, %d validation, %d test rows\n", e.TrainRows, e.ValRows, e.TestRows)
			}
			fmt.Fprintf(os.Stderr, "training a %s head on %d rows\n", cfg.Head, e.TrainRows)
		case head.StageTraining:
			printEpoch(*e.Epoch)
		}
	}
}

func stepName(rep *head.Report) string {
	if rep.Curves != nil && len(rep.Curves.Points) > 0 && rep.Result.Optimizer == "lbfgs" {
		return "iteration"
	}
	return "epoch"
}

func printEpoch(s head.EpochStats) {
	// L-BFGS reports every iteration; a line every tenth is enough to follow.
	if s.Step == "iteration" && s.Epoch != 1 && s.Epoch%10 != 0 {
		return
	}
	line := fmt.Sprintf("%s %3d/%d  train loss %.4f %s %.4f", s.Step, s.Epoch, s.Epochs, s.TrainLoss, s.Metric, s.TrainMetric)
	if s.HasVal {
		line += fmt.Sprintf("  val loss %.4f %s %.4f", s.ValLoss, s.Metric, s.ValMetric)
	}
	if s.Best {
		line += "  *"
	}
	fmt.Fprintln(os.Stderr, line)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// removedAdapterFlags refuses the flags of the removed embedding-level
// adapter (--adapter, --rank, --alpha) with the reason and what to use.
func removedAdapterFlags(args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "adapter" || name == "rank" || name == "alpha") {
			return usagef("--%s: %v", name, head.ErrAdapterRemoved)
		}
	}
	return nil
}
