package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/bertserve/bertserve/encoder/shards"
)

func cmdMerge(args []string) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	output := fs.String("output", "", "the merged .npy (row i = corpus row i)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bertserve merge DIR --output all.npy")
		fmt.Fprintln(fs.Output(), "DIR holds the shards of `bertserve embed --shard I/N --output DIR/` (or --shard auto in a Kubernetes Indexed Job).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, flagsFirst(fs, args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || *output == "" {
		return usagef("want one shard directory and --output FILE.npy, e.g. bertserve merge emb/ --output all.npy")
	}
	if !strings.HasSuffix(strings.ToLower(*output), ".npy") {
		return usagef("--output %s: the merged file is an .npy", *output)
	}
	dir := fs.Arg(0)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s is not a directory of shards: %v", dir, err)
	}
	set, err := shards.Merge(dir, *output)
	if err != nil {
		return err
	}
	m := set.Manifests[0]
	fmt.Fprintf(os.Stderr, "merged %d shards of %s into %s: %d rows, dim %d (model %s, pooling %s); every shard's sha256 checked\n",
		set.Shards, dir, *output, set.Rows, set.Dim, m.Model, m.Pooling)
	return nil
}

// flagsFirst moves positional arguments after the flags, so that
// `merge DIR --output x` parses like `merge --output x DIR` (the flag
// package stops at the first positional argument).
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // the flag package reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}
