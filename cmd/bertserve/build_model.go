package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/safetensors"
)

// cmdBuildModel implements
// `bertserve build-model --config config.json (--weights model.safetensors | --random [--seed N]) --tokenizer tokenizer.json --out DIR`.
func cmdBuildModel(args []string) error {
	fs := flag.NewFlagSet("build-model", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "Hugging Face config.json (bert, roberta, xlm-roberta, camembert or distilbert)")
	weights := fs.String("weights", "", "model.safetensors with Hugging Face parameter names")
	random := fs.Bool("random", false, "draw BERT-style random weights instead of reading --weights (for tests and benchmarks)")
	seed := fs.Uint64("seed", 1, "seed of --random; the same seed gives the same model on every platform")
	tok := fs.String("tokenizer", "", "tokenizer.json (or a WordPiece vocab.txt) to copy into the model directory")
	out := fs.String("out", "", "model directory to write")
	pooling := fs.String("pooling", "mean", "pooling recorded in the manifest: cls, mean, max or pooler")
	maxLen := fs.Int("max-length", 0, "longest input in tokens (default: the model's position limit)")
	name := fs.String("name", "", "model name for the manifest (default: the directory name)")
	license := fs.String("license", "", "license of the weights, for the manifest")
	var q quantFlags
	q.register(fs, "fp32")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "usage: bertserve build-model --config config.json (--weights model.safetensors | --random [--seed N])")
		fmt.Fprintln(w, "                             --tokenizer tokenizer.json --out DIR")
		fmt.Fprintln(w, "\nWrites DIR/model.onnx (opset 17; inputs input_ids, attention_mask[, token_type_ids];")
		fmt.Fprintln(w, "outputs last_hidden_state[, pooler_output]), the tokenizer, config.json and bertserve.json.")
		fmt.Fprintln(w, "With --random the weights are first written to DIR/model.safetensors and read back,")
		fmt.Fprintln(w, "so random and real models go through the same builder. --dtype int8 --calibration FILE")
		fmt.Fprintln(w, "then quantizes the directory in place (see `bertserve quantize -h`).")
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *cfgPath == "":
		return usagef("--config is required")
	case *out == "":
		return usagef("--out is required")
	case *tok == "":
		return usagef("--tokenizer is required (a tokenizer.json, or a vocab.txt for WordPiece models)")
	case *random == (*weights != ""):
		return usagef("give exactly one of --weights FILE and --random")
	}
	dt, err := q.parse()
	if err != nil {
		return err
	}
	cfgJSON, err := os.ReadFile(*cfgPath)
	if err != nil {
		return err
	}
	cfg, err := models.ParseConfig(cfgJSON)
	if err != nil {
		return fmt.Errorf("%s: %w", *cfgPath, err)
	}
	src := *weights
	source := ""
	if *random {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		src = filepath.Join(*out, models.WeightsFile)
		meta := map[string]string{"format": "pt", "bertserve_random_seed": strconv.FormatUint(*seed, 10)}
		if err := safetensors.WriteFile(src, models.RandomWeights(cfg, *seed), meta); err != nil {
			return fmt.Errorf("writing random weights: %w", err)
		}
		source = fmt.Sprintf("random:seed=%d", *seed)
	} else {
		abs, err := filepath.Abs(src)
		if err != nil {
			return err
		}
		source = "weights:" + abs
	}
	st, err := safetensors.ReadFile(src)
	if err != nil {
		return err
	}
	m, err := models.WriteModelDir(*out, models.DirSpec{
		Config: cfg, ConfigJSON: cfgJSON, Weights: st.Tensors, Tokenizer: *tok,
		Name: *name, Source: source, License: *license, Pooling: *pooling, MaxLength: *maxLen,
	})
	if err != nil {
		return err
	}
	if q.rebuild(dt) {
		if m, err = q.quantize("build-model", *out, *out, ""); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "build-model: %s %s %d layers, dim %d, pooling %s, max length %d, outputs %v\n",
		m.DType, m.Architecture, cfg.NumLayers, m.Dim, m.Pooling, m.MaxLength, m.Outputs)
	fmt.Println(*out)
	return nil
}
