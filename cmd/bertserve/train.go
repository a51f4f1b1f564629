package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/head"
)

// Files that train writes into the head directory beside head.json.
const (
	curvesJSON = "curves.json"
	curvesPNG  = "curves.png"
	errorsFile = "errors.jsonl"
)

func cmdTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var ef encoderFlags
	ef.register(fs)
	var df dataFlags
	registerDataFlags(fs, &df)
	fs.StringVar(&df.val, "val", "", "validation file (default: a stratified split of --data)")
	fs.StringVar(&df.test, "test", "", "test file (default: a stratified split of --data)")
	fs.StringVar(&df.valEmbeddings, "val-embeddings", "", "validation .npy (with --val-labels)")
	fs.StringVar(&df.valLabels, "val-labels", "", "validation labels, one per line")
	fs.StringVar(&df.testEmbeddings, "test-embeddings", "", "test .npy (with --test-labels)")
	fs.StringVar(&df.testLabels, "test-labels", "", "test labels, one per line")
	fs.StringVar(&df.labelNames, "label-names", "", "rename raw labels, e.g. 0=negative,1=positive")
	out := fs.String("out", "", "head directory to write (replaced atomically)")
	splitFlag := fs.String("split", "80/10/10", "train/val/test percentages when --val/--test are not given")
	nErrors := fs.Int("errors", 20, "write the N most confident mistakes of the test (else validation) set to errors.jsonl")

	cfg := head.Default()
	fs.StringVar(&cfg.Head, "head", cfg.Head, "head: softmax (logistic regression) or mlp")
	hidden := fs.String("hidden", "256", "MLP hidden widths, one or two: 256 or 512,128")
	fs.StringVar(&cfg.Activation, "activation", cfg.Activation, "MLP activation: gelu or relu")
	fs.Float64Var(&cfg.Dropout, "dropout", cfg.Dropout, "MLP dropout")
	adapter := fs.String("adapter", "", "adapter: lora (a low-rank residual adapter on the embedding) or none")
	fs.IntVar(&cfg.Adapter.Rank, "rank", cfg.Adapter.Rank, "adapter rank r")
	fs.Float64Var(&cfg.Adapter.Alpha, "alpha", cfg.Adapter.Alpha, "adapter scale alpha (update scaled by alpha/r)")
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
	seed := fs.Uint64("seed", cfg.Seed, "seed for the split, initialisation, shuffling and dropout")
	var tf tuneFlags
	fs.StringVar(&cfg.Tune, "tune", cfg.Tune, "train inside the encoder: none (the head only, on pooled embeddings), lora (low-rank updates of the top --layers), top (the top --layers unfrozen)")
	fs.StringVar(&tf.layers, "layers", strconv.Itoa(cfg.Layers), "with --tune: how many top encoder layers to train, or all")
	fs.IntVar(&cfg.LoRARank, "lora-rank", cfg.LoRARank, "--tune lora: rank r of each update B·A")
	fs.Float64Var(&cfg.LoRAAlpha, "lora-alpha", cfg.LoRAAlpha, "--tune lora: scale alpha (updates scaled by alpha/r)")
	fs.Float64Var(&cfg.LoRADropout, "lora-dropout", cfg.LoRADropout, "--tune lora: dropout on the LoRA branch's input")
	fs.StringVar(&tf.targets, "lora-targets", strings.Join(cfg.LoRATargets, ","), "--tune lora: projections to update: query, key, value, attention.output, intermediate, output")
	fs.Float64Var(&cfg.LayerLRDecay, "layer-lr-decay", cfg.LayerLRDecay, "--tune top: each layer down trains at this times the rate of the one above (1: all the same)")
	fs.StringVar(&cfg.Unfreeze, "unfreeze", cfg.Unfreeze, "--tune top: all (every layer from the start) or gradual (the top layer first, one more each epoch)")
	fs.StringVar(&tf.hiddenDType, "hidden-dtype", "float16", "--tune: how the hidden-state cache stores states: float16 or float32")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bertserve train --model DIR --data FILE [--val FILE] [--test FILE] --out HEADDIR [flags]")
		fmt.Fprintln(fs.Output(), "       bertserve train --embeddings X.npy --labels y.txt [--val-embeddings ...] --out HEADDIR [flags]")
		fs.PrintDefaults()
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
	cfg.Seed = *seed
	if *adapter != "" {
		cfg.Adapter.Kind = *adapter
	}
	widths, err := parseInts(*hidden)
	if err != nil {
		return usagef("--hidden %q: %v", *hidden, err)
	}
	cfg.Hidden = widths
	cfg.LoRATargets = strings.Split(tf.targets, ",")
	valFrac, testFrac, err := parseSplit(*splitFlag)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	names, err := labelMap(df.labelNames)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.Tuned() {
		return trainTuned(ctx, &ef, &df, &tf, cfg, names, valFrac, testFrac, *out, *nErrors)
	}

	train, val, test, encInfo, err := loadTrainData(ctx, &ef, &df, names, valFrac, testFrac, cfg.Seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "training a %s head on %d rows x %d dims, %d classes (%s)\n",
		cfg.Head, train.Len(), train.Dim(), len(train.Labels), strings.Join(train.Labels, ", "))
	m, rep, err := head.Train(ctx, train, val, cfg, printEpoch)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; %s was not written", *out)
		}
		return err
	}
	m.SetEncoder(encInfo)
	report := os.Stdout
	for _, s := range []struct {
		name string
		ds   *head.Dataset
	}{{"train", train}, {"validation", val}, {"test", test}} {
		if s.ds == nil {
			continue
		}
		mt, err := head.Evaluate(m, s.ds)
		if err != nil {
			return err
		}
		m.SetMetrics(s.name, mt)
		if s.name != "train" {
			fmt.Fprintf(report, "\n%s metrics (%d rows):\n", s.name, s.ds.Len())
			mt.WriteTable(report)
		} else {
			fmt.Fprintf(report, "\ntrain accuracy %.4f, log loss %.4f\n", mt.Accuracy, mt.LogLoss)
		}
	}
	if err := head.Save(*out, m); err != nil {
		return fmt.Errorf("saving the head: %w", err)
	}
	if err := writeTrainArtifacts(*out, m, rep, pick(test, val), *nErrors); err != nil {
		return err
	}
	fmt.Fprintf(report, "\nfit: %s\n", rep.Diagnosis.String())
	fmt.Fprintf(report, "params: head %d, adapter %d; %s, %d %ss in %.1fs\n", rep.Params.Head, rep.Params.Adapter,
		rep.Result.Optimizer, rep.Result.Epochs, stepName(rep), rep.Duration.Seconds())
	fmt.Fprintf(report, "head saved to %s; curves: %s, %s\n", *out, filepath.Join(*out, curvesPNG), filepath.Join(*out, curvesJSON))
	return nil
}

func registerDataFlags(fs *flag.FlagSet, df *dataFlags) {
	fs.StringVar(&df.data, "data", "", "labelled data: .csv, .tsv (header row) or .jsonl")
	fs.StringVar(&df.textCol, "text-col", "", "text column (default: the first text-like column)")
	fs.StringVar(&df.labelCol, "label-col", "", "label column (default: detected, e.g. label)")
	fs.StringVar(&df.embeddings, "embeddings", "", "an .npy embedding matrix instead of text (with --labels)")
	fs.StringVar(&df.labels, "labels", "", "labels of --embeddings, one per line")
	fs.BoolVar(&df.noCache, "no-cache", false, "do not read or write the embedding cache")
	fs.StringVar(&df.cacheDir, "cache-dir", "", "embedding cache folder (default: the bertserve cache)")
}

func pick(a, b *head.Dataset) *head.Dataset {
	if a != nil {
		return a
	}
	return b
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

// writeTrainArtifacts adds the curves (JSON, PNG) and the most confident
// mistakes to a saved head directory, each written atomically.
func writeTrainArtifacts(dir string, m *head.Model, rep *head.Report, eval *head.Dataset, n int) error {
	if rep.Curves != nil && len(rep.Curves.Points) > 0 {
		if err := rep.Curves.WriteJSON(filepath.Join(dir, curvesJSON)); err != nil {
			return err
		}
		if err := rep.Curves.WritePNG(filepath.Join(dir, curvesPNG), "learning curves: "+filepath.Base(dir)); err != nil {
			return err
		}
	}
	if eval == nil || n <= 0 {
		return nil
	}
	ms, err := head.ErrorAnalysis(m, eval, n)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, errorsFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, mk := range ms {
			if err := enc.Encode(mk); err != nil {
				return err
			}
		}
		return nil
	})
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

// parseSplit reads "80/10/10" (train/val/test percentages).
func parseSplit(s string) (val, test float64, err error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return 0, 0, usagef("--split %q: want train/val/test percentages such as 80/10/10", s)
	}
	var p [3]float64
	for i, x := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || v < 0 {
			return 0, 0, usagef("--split %q: %q is not a percentage", s, x)
		}
		p[i] = v
	}
	if sum := p[0] + p[1] + p[2]; sum < 99.5 || sum > 100.5 || p[0] == 0 {
		return 0, 0, usagef("--split %q: the percentages must sum to 100 with a training share", s)
	}
	return p[1] / 100, p[2] / 100, nil
}
