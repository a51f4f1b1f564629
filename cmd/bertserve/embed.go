package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bertserve/bertserve/encoder/corpus"
	"github.com/bertserve/bertserve/encoder/stream"
)

func cmdEmbed(args []string) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var ef encoderFlags
	ef.register(fs)
	input := fs.String("input", "", "input corpus: .txt (a line each), .csv/.tsv (header row), .jsonl; - reads stdin (JSON Lines {\"id\",\"text\"} or plain lines)")
	output := fs.String("output", "", "output: .npy (float32 [N, D]) or .jsonl file; - writes JSON Lines to stdout; DIR/ writes shard files part-0000I-of-0000N.npy + manifests")
	textCol := fs.String("text-col", "", "text column of .csv/.tsv/.jsonl (default: the first text-like column; for a JSON Lines stream, \"text\")")
	idCol := fs.String("id-col", "id", "key of a JSON Lines stream echoed back as \"id\"")
	inputFormat := fs.String("input-format", "auto", "input format: auto (the file extension; for stdin, JSON Lines if the first line starts with '{'), csv, tsv, jsonl or txt")
	shard := fs.String("shard", "", "I/N: embed only rows with index mod N == I; auto: I from $JOB_COMPLETION_INDEX (Kubernetes Indexed Job), N from --shards")
	nShards := fs.Int("shards", 0, "number of shards N (with --shard auto or --shard I)")
	encoding := fs.String("encoding", "json", "JSON Lines embeddings as a json array of numbers or base64 of the little-endian float32 bytes")
	onError := fs.String("on-error", "fail", "a stdin line that cannot be read: fail (stop after the rows before it, naming the line) or skip (report it on stderr and go on)")
	var resume resumeFlag
	fs.Var(&resume, "resume", "continue a partial output left by an interrupted run: auto (default: continue one made with the same options, refuse another), true (require one), false (delete it and start over)")
	every := fs.Duration("checkpoint-every", 2*time.Second, "least time between checkpoints of a resumable output, taken after a chunk of 2048 rows (0: after every chunk)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bertserve embed --model DIR --input FILE|- --output FILE|-|DIR/ [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *input == "" || *output == "" {
		return usagef("--input and --output are required (- for stdin / stdout)")
	}
	si, sn, err := shardOf(*shard, *nShards, os.Getenv("JOB_COMPLETION_INDEX"))
	if err != nil {
		return err
	}
	format, err := corpus.ParseFormat(*inputFormat)
	if err != nil {
		return usagef("--input-format: %v", err)
	}
	enc, err := stream.ParseEncoding(*encoding)
	if err != nil {
		return usagef("%v", err)
	}
	var oe stream.OnError
	switch *onError {
	case "fail":
	case "skip":
		oe = stream.OnErrorSkip
	default:
		return usagef("--on-error %q: want fail or skip", *onError)
	}
	if *every < 0 {
		return usagef("--checkpoint-every must not be negative")
	}
	if *output != "-" && !stream.IsDir(*output) {
		if ext := strings.ToLower(fileExt(*output)); ext != ".npy" && ext != ".jsonl" {
			return usagef("--output %s: the extension must be .npy or .jsonl (or give - for stdout, DIR/ for shard files)", *output)
		}
	}
	if *input != "-" {
		if _, err := os.Stat(*input); err != nil {
			return fmt.Errorf("--input: %w", err)
		}
	}
	e, err := ef.open()
	if err != nil {
		return err
	}
	defer e.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bar := newStreamProgress(os.Stderr, *input != "-")
	sum, err := stream.Run(ctx, stream.Job{
		Encoder: e, ModelDir: ef.model,
		Input: *input, Format: format, TextColumn: *textCol, IDColumn: *idCol,
		Output: *output, Encoding: enc,
		Shard: si, Shards: sn,
		Resume: resume.mode, CheckpointEvery: *every, OnError: oe,
		Log: os.Stderr, Progress: bar.update,
	})
	bar.done()
	if err != nil {
		return err // an interruption says which rows are kept and how to go on
	}
	if sum.AlreadyComplete {
		return nil
	}
	info := e.Info()
	resumed := ""
	if sum.ResumedFrom > 0 {
		resumed = fmt.Sprintf(" (%d kept from the partial output, %d embedded now)", sum.ResumedFrom, sum.NewRows)
	}
	skipped := ""
	if sum.Skipped > 0 {
		skipped = fmt.Sprintf(", %d bad lines skipped", sum.Skipped)
	}
	secs := sum.Elapsed.Seconds()
	dest := sum.Output
	if dest == "-" {
		dest = "stdout"
	}
	fmt.Fprintf(os.Stderr, "embedded %d rows%s (dim %d, pooling %s) into %s: %d tokens, %d truncated, %d with invalid UTF-8%s, padding waste %.1f%%, %.2fs, %.0f sentences/s\n",
		sum.Rows, resumed, info.Dim, info.Pooling, dest, sum.Tokens, sum.Truncated, sum.InvalidUTF8, skipped,
		paddingWaste(int(sum.PaddedTokens), int(sum.Tokens)), secs, float64(sum.NewRows)/max(secs, 1e-9))
	return nil
}

func fileExt(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 && !strings.ContainsAny(p[i:], `/\`) {
		return p[i:]
	}
	return ""
}

// paddingWaste is padded tokens / real tokens - 1, in percent.
func paddingWaste(padded, real int) float64 {
	if real == 0 {
		return 0
	}
	return 100 * (float64(padded)/float64(real) - 1)
}

// shardOf resolves --shard and --shards: "" (no sharding), "I/N", "I"
// with --shards N, or "auto" with --shards N and the index taken from
// $JOB_COMPLETION_INDEX, which a Kubernetes Indexed Job sets in each pod.
func shardOf(shard string, shards int, jobIndex string) (i, n int, err error) {
	if shards < 0 {
		return 0, 0, usagef("--shards %d: want a positive count", shards)
	}
	switch {
	case shard == "":
		if shards > 1 {
			return 0, 0, usagef("--shards %d needs --shard: auto (from $JOB_COMPLETION_INDEX) or an index I", shards)
		}
		return 0, 1, nil
	case shard == "auto":
		if shards < 1 {
			return 0, 0, usagef("--shard auto needs --shards N (the Indexed Job's completions)")
		}
		if jobIndex == "" {
			return 0, 0, usagef("--shard auto reads the shard index from $JOB_COMPLETION_INDEX, which is not set (a Kubernetes Indexed Job sets it); elsewhere give --shard I/N")
		}
		i, err := strconv.Atoi(jobIndex)
		if err != nil || i < 0 || i >= shards {
			return 0, 0, usagef("$JOB_COMPLETION_INDEX=%q: want an index 0..%d for --shards %d", jobIndex, shards-1, shards)
		}
		return i, shards, nil
	}
	a, b, hasN := strings.Cut(shard, "/")
	i, err1 := strconv.Atoi(a)
	n = shards
	var err2 error
	if hasN {
		n, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, usagef("--shard %q: want I/N with 0 <= I < N (e.g. 0/4), I with --shards N, or auto", shard)
	}
	if hasN && shards > 0 && shards != n {
		return 0, 0, usagef("--shard %s and --shards %d disagree", shard, shards)
	}
	return i, n, nil
}

// resumeFlag is --resume: bare (or true) requires a partial output, false
// deletes one, and the default (auto) continues a matching one.
type resumeFlag struct{ mode stream.Resume }

func (r *resumeFlag) String() string {
	if r == nil {
		return "auto"
	}
	return map[stream.Resume]string{stream.ResumeAuto: "auto", stream.ResumeRequire: "true", stream.ResumeNever: "false"}[r.mode]
}

func (r *resumeFlag) Set(s string) error {
	switch strings.ToLower(s) {
	case "auto":
		r.mode = stream.ResumeAuto
	case "true", "yes", "1":
		r.mode = stream.ResumeRequire
	case "false", "no", "0":
		r.mode = stream.ResumeNever
	default:
		return fmt.Errorf("want auto, true or false")
	}
	return nil
}

func (r *resumeFlag) IsBoolFlag() bool { return true }
