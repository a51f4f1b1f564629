// Command headbench trains a head on .npy embedding matrices and prints
// accuracy, log loss and wall time as JSON: the bertserve side of
// scripts/bench_head.sh, which runs scikit-learn on the same matrices.
//
//	headbench -train-x X.npy -train-y y.txt -test-x Xt.npy -test-y yt.txt [-head softmax] [-weight-decay 1e-4]
//	headbench -make DIR [-rows 60614 -dim 384 -classes 2]   # synthetic matrices to try it on
//
// Labels files hold one label per line. With -head mlp it times AdamW
// epochs instead (-epochs, default 1) and reports seconds per epoch.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/bertserve/bertserve/head"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "headbench:", err)
		os.Exit(1)
	}
}

type result struct {
	Impl        string  `json:"impl"`
	Head        string  `json:"head"`
	Optimizer   string  `json:"optimizer"`
	Rows        int     `json:"rows"`
	Dim         int     `json:"dim"`
	Classes     int     `json:"classes"`
	WeightDecay float64 `json:"weight_decay"`
	Iterations  int     `json:"iterations"`
	Converged   bool    `json:"converged"`
	Seconds     float64 `json:"seconds"`
	PerEpoch    float64 `json:"seconds_per_epoch,omitempty"`
	Accuracy    float64 `json:"accuracy"`
	LogLoss     float64 `json:"log_loss"`
	Cores       int     `json:"cores"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("headbench", flag.ContinueOnError)
	trainX := fs.String("train-x", "", "training embeddings (.npy)")
	trainY := fs.String("train-y", "", "training labels, one per line")
	testX := fs.String("test-x", "", "test embeddings (.npy)")
	testY := fs.String("test-y", "", "test labels, one per line")
	kind := fs.String("head", head.HeadSoftmax, "softmax or mlp")
	wd := fs.Float64("weight-decay", head.Default().WeightDecay, "L2 strength (softmax) or AdamW weight decay")
	tol := fs.Float64("tol", head.Default().Tol, "L-BFGS gradient tolerance")
	epochs := fs.Int("epochs", 1, "AdamW epochs for -head mlp")
	makeDir := fs.String("make", "", "write synthetic train/test matrices and labels into this directory and exit")
	rows := fs.Int("rows", 60614, "rows of the synthetic training matrix")
	dim := fs.Int("dim", 384, "width of the synthetic matrices")
	classes := fs.Int("classes", 2, "classes of the synthetic data")
	seed := fs.Uint64("seed", 1, "seed")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the training here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *makeDir != "" {
		return makeSynthetic(*makeDir, *rows, *dim, *classes, *seed)
	}
	if *trainX == "" || *trainY == "" || *testX == "" || *testY == "" {
		return errors.New("need -train-x, -train-y, -test-x and -test-y (or -make DIR)")
	}
	train, err := head.ReadEmbeddings(*trainX, *trainY, nil)
	if err != nil {
		return err
	}
	test, err := head.ReadEmbeddings(*testX, *testY, train.Labels)
	if err != nil {
		return err
	}
	cfg := head.Default()
	cfg.Head, cfg.WeightDecay, cfg.Tol, cfg.Seed = *kind, *wd, *tol, *seed
	if cfg.ResolvedOptimizer() == head.OptAdamW {
		cfg.Epochs = *epochs
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	start := time.Now()
	m, rep, err := head.Train(context.Background(), train, nil, cfg, nil)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	mt, err := head.Evaluate(m, test)
	if err != nil {
		return err
	}
	r := result{Impl: "bertserve", Head: *kind, Optimizer: rep.Result.Optimizer, Rows: train.Len(), Dim: train.Dim(),
		Classes: len(train.Labels), WeightDecay: *wd, Iterations: rep.Result.Epochs, Converged: rep.Result.Converged,
		Seconds: secs, Accuracy: mt.Accuracy, LogLoss: mt.LogLoss, Cores: runtime.GOMAXPROCS(0)}
	if rep.Result.Optimizer == head.OptAdamW {
		r.PerEpoch = secs / float64(rep.Result.Epochs)
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}
