package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bertserve/bertserve/models/hub"
)

// pullHub implements `bertserve pull <org/name> [--revision R] [--dir DIR]`:
// it downloads a model from the Hugging Face hub (or $HF_ENDPOINT) and
// makes it a model directory, printing that directory on stdout so
// scripts can capture it. Progress goes to stderr.
func pullHub(name string, args []string) error {
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	revision := fs.String("revision", hub.DefaultRevision, "branch, tag or commit to pull (e.g. a pull request: refs/pr/N)")
	dir := fs.String("dir", "", "model directory to create or replace (default: the cache, "+hub.DefaultDir("<org>/<name>")+")")
	endpoint := fs.String("endpoint", "", "hub base URL (default: $HF_ENDPOINT, else "+hub.DefaultEndpoint+")")
	allowMissing := fs.Bool("allow-missing-hub-headers", false, "accept a mirror that sends no X-Repo-Commit or ETag (files it gives no checksum for are checked by size only)")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "usage: bertserve pull <org/name> [--revision R] [--dir DIR] [--endpoint URL] [--allow-missing-hub-headers]")
		fmt.Fprintln(out, "\nDownloads a BERT-family model from the Hugging Face hub: its ONNX export when the repo")
		fmt.Fprintln(out, "has onnx/model.onnx, else config.json + safetensors weights, converted to ONNX.")
		fmt.Fprintln(out, "Interrupted downloads resume when the command is run again.")
		fmt.Fprintln(out, "\nenvironment:")
		fmt.Fprintln(out, "  HF_TOKEN     access token for gated or private repos (https://huggingface.co/settings/tokens);")
		fmt.Fprintln(out, "               else HUGGING_FACE_HUB_TOKEN, else the file $HF_TOKEN_PATH or $HF_HOME/token")
		fmt.Fprintln(out, "               (default ~/.cache/huggingface/token, written by `hf auth login`)")
		fmt.Fprintln(out, "  HF_ENDPOINT  a hub mirror to use instead of "+hub.DefaultEndpoint)
		fmt.Fprintln(out, "\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q after the model name (flags go after it: bertserve pull %s --dir DIR)", fs.Args(), name)
	}
	if err := hub.ValidateRepo(name); err != nil {
		return usageError{err.Error()}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := hub.Pull(ctx, name, hub.Options{
		Revision: *revision,
		Dir:      *dir,
		Endpoint: *endpoint,
		Progress: os.Stderr,

		AllowMissingHubHeaders: *allowMissing,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "next: bertserve embed --model %s --input FILE --output FILE.npy\n", out)
	fmt.Println(out)
	return nil
}
