package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
)

// quantFlags are the --dtype and calibration flags of quantize,
// build-model, import and pull.
type quantFlags struct {
	dtype, calibration, textCol string
	rows                        int
	fused                       bool
	fs                          *flag.FlagSet
}

func (q *quantFlags) register(fs *flag.FlagSet, defaultDType string) {
	fs.StringVar(&q.dtype, "dtype", defaultDType, "fp32, or int8: linear layers quantized (per-channel int8 weights, activations per token at run time, query/key/value input static; needs --calibration)")
	fs.StringVar(&q.calibration, "calibration", "", "int8: text like the text the model will embed (.txt/.csv/.tsv/.jsonl), to find the activations' outlier channels")
	fs.StringVar(&q.textCol, "calibration-col", "", "text column of --calibration (default: the first text-like column)")
	fs.IntVar(&q.rows, "calibration-rows", 256, "rows of --calibration to use")
	fs.BoolVar(&q.fused, "fused", false, "write the layers with ONNX Runtime's fused CPU operators (Attention/MultiHeadAttention, SkipLayerNormalization, BiasGelu; exact GELU); the default for int8 (--fused=false: the plain int8 graph, 0.73× the fused one's speed), optional for fp32")
	q.fs = fs
}

// suffix names the variant the flags ask for: "-int8" (fused, the int8
// default), "-int8-plain" (--fused=false) or "-fused" (float32).
func (q *quantFlags) suffix(dt string) string {
	switch {
	case dt == models.DTypeInt8 && q.fused:
		return "-int8"
	case dt == models.DTypeInt8:
		return "-int8-plain"
	case q.fused:
		return "-fused"
	}
	return ""
}

// rebuild reports whether the flags ask for more than the plain float32
// graph.
func (q *quantFlags) rebuild(dt string) bool { return dt == models.DTypeInt8 || q.fused }

// parse checks the flags and returns the dtype they ask for.
func (q *quantFlags) parse() (string, error) {
	dt, err := models.ParseDType(q.dtype)
	if err != nil {
		return "", usagef("--dtype: %v", err)
	}
	// int8 is fused unless --fused=false: on the 2-core benchmark the
	// fused int8 graph runs 2.22× today's float32 on SST-2 phrases where
	// the plain one runs 1.62× (BENCHMARKS.md, issue 11), and both need
	// ONNX Runtime's contrib operators anyway.
	set := false
	if q.fs != nil {
		q.fs.Visit(func(f *flag.Flag) { set = set || f.Name == "fused" })
	}
	if dt == models.DTypeInt8 && !set {
		q.fused = true
	}
	switch {
	case q.rows <= 0:
		return "", usagef("--calibration-rows must be positive")
	case dt == models.DTypeInt8 && q.calibration == "":
		return "", usagef("--dtype int8 needs --calibration FILE: a few hundred lines like the text the model will embed (the int8 graph is smoothed for the outlier channels that text shows)")
	case dt == models.DTypeFloat32 && q.calibration != "":
		return "", usagef("--calibration is for --dtype int8; a float32 model needs none")
	}
	return dt, nil
}

// quantize writes dst, the int8 model of the float32 model directory src
// (dst may be src), calibrated on the flags' text, or with --fused and
// --dtype fp32 its fused float32 model.
func (q *quantFlags) quantize(cmd, src, dst, ortLib string) (*models.Manifest, error) {
	if dt, _ := models.ParseDType(q.dtype); dt == models.DTypeFloat32 {
		qm, err := models.QuantizeDir(src, dst, models.QuantizeOptions{DType: dt, Fused: true})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "%s: fused float32 model %s (sha256 %s…), rebuilt from %s…\n", cmd, dst, qm.SHA256[:12], qm.FusedFrom[:12])
		return qm, nil
	}
	texts, err := readTexts(q.calibration, q.textCol, q.rows)
	if err != nil {
		return nil, fmt.Errorf("--calibration: %w", err)
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("--calibration %s has no rows", q.calibration)
	}
	m, err := models.ReadManifest(src)
	if err != nil {
		return nil, err
	}
	tok, err := encoder.LoadTokenizer(src)
	if err != nil {
		return nil, err
	}
	maxLen := m.MaxLength
	if maxLen <= 0 || maxLen > 512 {
		maxLen = 512
	}
	seqs := make([][]int64, len(texts))
	for i, t := range texts {
		seqs[i] = tok.Encode(t, maxLen).IDs
	}
	sum, err := models.FileSHA256(q.calibration)
	if err != nil {
		return nil, err
	}
	source := fmt.Sprintf("%s: first %d rows (sha256 %s)", filepath.Base(q.calibration), len(texts), sum[:12])
	qm, err := models.QuantizeDir(src, dst, models.QuantizeOptions{
		DType: models.DTypeInt8, Calibration: seqs, CalibrationSource: source, ORTLib: ortLib, Fused: q.fused,
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%s: int8 model %s (sha256 %s…), quantized from float32 %s…, calibrated on %s\n",
		cmd, dst, qm.SHA256[:12], qm.QuantizedFrom[:12], source)
	return qm, nil
}

// cmdQuantize implements
// `bertserve quantize --model DIR --out DIR --calibration FILE [--dtype int8]`.
func cmdQuantize(args []string) error {
	fs := flag.NewFlagSet("quantize", flag.ContinueOnError)
	model := fs.String("model", "", "float32 model directory to quantize (made by pull, import or build-model)")
	out := fs.String("out", "", "model directory to write (must differ from --model)")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime library calibration runs on (default $ONNXRUNTIME_LIB, then the setup cache)")
	var q quantFlags
	q.register(fs, models.DTypeInt8)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "usage: bertserve quantize --model DIR --out DIR --calibration FILE [--dtype int8] [--fused=false]")
		fmt.Fprintln(w, "       bertserve quantize --model DIR --out DIR --dtype fp32 --fused")
		fmt.Fprintln(w, "\nWrites DIR, a complete model directory whose model.onnx has the linear layers of every")
		fmt.Fprintln(w, "encoder layer as int8 products (ONNX Runtime MatMulIntegerToFloat: per-channel weight")
		fmt.Fprintln(w, "scales, activations quantized per token at run time (the query/key/value input with one")
		fmt.Fprintln(w, "static scale), SmoothQuant smoothing calibrated on --calibration). Tokenizer, config and")
		fmt.Fprintln(w, "weights are copied; bertserve.json records dtype int8 and the float32 model's sha256")
		fmt.Fprintln(w, "(quantized_from), so heads trained on it are accepted.")
		fmt.Fprintln(w, "int8 graphs use ONNX Runtime's fused CPU operators unless --fused=false (the plain int8")
		fmt.Fprintln(w, "graph, slower). With --dtype fp32, --fused is all that changes (no calibration): a fused")
		fmt.Fprintln(w, "float32 model (fused_from the plain one).")
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *model == "":
		return usagef("--model is required (a float32 model directory)")
	case *out == "":
		return usagef("--out is required")
	}
	if dt, err := models.ParseDType(q.dtype); err == nil && dt != models.DTypeInt8 && !q.fused {
		return usagef("--dtype %s: quantize writes int8 models, or with --fused fused ones (a plain float32 model is what pull, import and build-model write)", q.dtype)
	}
	if _, err := q.parse(); err != nil {
		return err
	}
	if a, b := absPath(*model), absPath(*out); a == b {
		return usagef("--out must differ from --model: the float32 model stays as it is")
	}
	if _, err := q.quantize("quantize", *model, *out, *ortLib); err != nil {
		return err
	}
	fmt.Println(*out)
	return nil
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}
