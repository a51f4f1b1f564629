package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/registry"
)

// cmdImport implements `bertserve import --from DIR|model.onnx --out DIR`.
func cmdImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	from := fs.String("from", "", "Hugging Face model folder (config.json, model.safetensors or shards + index, tokenizer.json or vocab.txt), or a BERT encoder's ONNX export (model.onnx)")
	out := fs.String("out", "", "model directory to write")
	name := fs.String("name", "", "model name for the manifest (default: the folder or file name)")
	license := fs.String("license", "", "license of the weights (default: README.md's front matter)")
	pooling := fs.String("pooling", "", "cls, mean, max or pooler (default: the sentence-transformers pooling, else mean)")
	normalize := fs.Bool("normalize", false, "the model's embeddings are L2-normalized (default: a sentence-transformers Normalize module says so)")
	maxLen := fs.Int("max-length", 0, "longest input in tokens (default: sentence-transformers max_seq_length, tokenizer model_max_length, position limit)")
	tokenizer := fs.String("tokenizer", "", "tokenizer.json or vocab.txt for a model.onnx (default: the one next to it or in its parent folder)")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime library for checking a rebuilt model.onnx (default $ONNXRUNTIME_LIB, then the setup cache)")
	var q quantFlags
	q.register(fs, "fp32")
	ignore := fs.Bool("ignore-extra-modules", false, "import even if the sentence-transformers pipeline has modules bertserve does not apply (Dense, ...)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "usage: bertserve import --from DIR|model.onnx --out DIR [--pooling P] [--max-length N]")
		fmt.Fprintln(w, "\nConverts a downloaded Hugging Face model (bert, roberta, xlm-roberta, camembert,")
		fmt.Fprintln(w, "distilbert; safetensors weights only) into DIR/model.onnx plus its weights, tokenizer,")
		fmt.Fprintln(w, "config.json, sentence-transformers files and bertserve.json.")
		fmt.Fprintln(w, "\nWith --from model.onnx (a BERT export such as optimum's or Xenova's onnx/model.onnx),")
		fmt.Fprintln(w, "the weights are recovered from the graph and written as model.safetensors with a")
		fmt.Fprintln(w, "config.json read off the graph; model.onnx is rebuilt from them and, when ONNX Runtime")
		fmt.Fprintln(w, "is installed, checked against the export on the same token ids.")
		fmt.Fprintln(w, "\nWith --dtype int8 --calibration FILE the imported directory is then quantized in place")
		fmt.Fprintln(w, "(see `bertserve quantize -h`).")
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *from == "":
		return usagef("--from is required")
	case *out == "":
		return usagef("--out is required")
	}
	dt, err := q.parse()
	if err != nil {
		return err
	}
	if err := importFloat(*from, *out, *ortLib, *normalize, *tokenizer, models.ImportOptions{
		Name: *name, License: *license, Pooling: *pooling, MaxLength: *maxLen, IgnoreExtraModules: *ignore,
	}); err != nil {
		return err
	}
	if q.rebuild(dt) {
		// The float32 import is checked against its source; the int8
		// model is then written in place of it.
		if _, err := q.quantize("import", *out, *out, *ortLib); err != nil {
			return err
		}
	}
	fmt.Println(*out)
	return nil
}

// importFloat writes the float32 model directory out from a Hugging Face
// folder or an ONNX export.
func importFloat(from, out, ortLib string, normalize bool, tokenizer string, opts models.ImportOptions) error {
	st, err := os.Stat(from)
	if err != nil {
		return fmt.Errorf("import --from: %w", err)
	}
	if !st.IsDir() {
		return importONNX(from, out, ortLib, models.ONNXImportOptions{
			Name: opts.Name, License: opts.License, Pooling: opts.Pooling, Normalize: normalize, MaxLength: opts.MaxLength, Tokenizer: tokenizer,
		})
	}
	m, err := models.ImportHF(from, out, opts)
	if err != nil {
		if hint := onnxHint(from); hint != "" && !fileExists(filepath.Join(from, models.WeightsFile)) {
			return fmt.Errorf("%w; the folder has an ONNX export: try `bertserve import --from %s --out %s`", err, hint, out)
		}
		return err
	}
	if normalize && !m.Normalize {
		m.Normalize = true
		if err := models.WriteManifest(out, m); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "import: %s dim %d, pooling %s, normalize %v, max length %d, outputs %v\n",
		m.Architecture, m.Dim, m.Pooling, m.Normalize, m.MaxLength, m.Outputs)
	return nil
}

// onnxHint names an ONNX export inside a Hugging Face folder, if any.
func onnxHint(dir string) string {
	for _, p := range []string{"onnx/model.onnx", "model.onnx"} {
		if path := filepath.Join(dir, p); fileExists(path) {
			return path
		}
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// importONNX recovers a BERT encoder from an ONNX export, writes the model
// directory and checks the rebuilt graph against the export.
func importONNX(src, out, ortLib string, opts models.ONNXImportOptions) error {
	if !strings.HasSuffix(strings.ToLower(src), ".onnx") {
		return usagef("--from %s is a file but not an .onnx export; give a Hugging Face folder or a model.onnx", src)
	}
	m, rec, err := models.ImportONNX(src, out, opts)
	if err != nil {
		return err
	}
	c := rec.Config
	fmt.Fprintf(os.Stderr, "import: recovered %d layers, hidden %d, %d heads, intermediate %d, vocab %d, %d positions, %d token types, %s, LayerNorm eps %g\n",
		c.NumLayers, c.HiddenSize, c.NumHeads, c.IntermediateSize, c.VocabSize, c.MaxPositions, c.TypeVocabSize, c.HiddenAct, c.LayerNormEps)
	for _, n := range rec.Notes {
		fmt.Fprintln(os.Stderr, "import: note:", n)
	}
	orig, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	rebuilt, err := os.ReadFile(filepath.Join(out, models.ModelFile))
	if err != nil {
		return err
	}
	cmp, err := registry.Compare(orig, rebuilt, registry.CompareSeqs(c.VocabSize, c.MaxPositions), ortLib)
	switch {
	case errors.Is(err, encoder.ErrNoRuntime):
		fmt.Fprintln(os.Stderr, "import: ONNX Runtime not found, so the rebuilt graph was not compared with the export (run `make setup`)")
	case err != nil:
		return fmt.Errorf("comparing the rebuilt graph with %s: %w", src, err)
	case cmp.MaxAbsDiff > 1e-3 || cmp.MinCosine < 0.9999:
		return fmt.Errorf("the rebuilt graph does not reproduce %s: %s; the model directory %s is not usable as a copy of it", src, cmp, out)
	default:
		fmt.Fprintln(os.Stderr, "import: checked against the export in ONNX Runtime:", cmp)
	}
	fmt.Fprintf(os.Stderr, "import: %s dim %d, pooling %s, normalize %v, max length %d, outputs %v\n",
		m.Architecture, m.Dim, m.Pooling, m.Normalize, m.MaxLength, m.Outputs)
	return nil
}
