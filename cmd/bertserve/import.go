package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bertserve/bertserve/models"
)

// cmdImport implements `bertserve import --from DIR --out DIR`.
func cmdImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	from := fs.String("from", "", "Hugging Face model folder: config.json, model.safetensors (or shards + index), tokenizer.json or vocab.txt")
	out := fs.String("out", "", "model directory to write")
	name := fs.String("name", "", "model name for the manifest (default: the folder name)")
	license := fs.String("license", "", "license of the weights (default: README.md's front matter)")
	pooling := fs.String("pooling", "", "cls, mean, max or pooler (default: the sentence-transformers pooling, else mean)")
	maxLen := fs.Int("max-length", 0, "longest input in tokens (default: sentence-transformers max_seq_length, tokenizer model_max_length, position limit)")
	ignore := fs.Bool("ignore-extra-modules", false, "import even if the sentence-transformers pipeline has modules bertserve does not apply (Dense, ...)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "usage: bertserve import --from DIR --out DIR [--pooling P] [--max-length N]")
		fmt.Fprintln(w, "\nConverts a downloaded Hugging Face model (bert, roberta, xlm-roberta, camembert,")
		fmt.Fprintln(w, "distilbert; safetensors weights only) into DIR/model.onnx plus its tokenizer,")
		fmt.Fprintln(w, "config.json, sentence-transformers files and bertserve.json.")
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
	m, err := models.ImportHF(*from, *out, models.ImportOptions{
		Name: *name, License: *license, Pooling: *pooling, MaxLength: *maxLen, IgnoreExtraModules: *ignore,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "import: %s dim %d, pooling %s, normalize %v, max length %d, outputs %v\n",
		m.Architecture, m.Dim, m.Pooling, m.Normalize, m.MaxLength, m.Outputs)
	fmt.Println(*out)
	return nil
}
