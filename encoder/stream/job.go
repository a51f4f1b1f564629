package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/encoder/corpus"
	"github.com/bertserve/bertserve/encoder/shards"
)

// Resume says what to do with a partial output left by an earlier run.
type Resume int

const (
	// ResumeAuto continues a partial output made with the same options
	// and input, and refuses (with a message) one made otherwise.
	ResumeAuto Resume = iota
	// ResumeRequire is ResumeAuto that also fails when there is none.
	ResumeRequire
	// ResumeNever deletes any partial output and starts afresh.
	ResumeNever
)

// OnError says what a stream does with a line it cannot read.
type OnError int

const (
	// OnErrorFail stops at the first bad line (after writing the rows
	// before it) with an error naming the line.
	OnErrorFail OnError = iota
	// OnErrorSkip reports the bad line on the log with its number and
	// goes on.
	OnErrorSkip
)

// Job is one embedding run. Encoder, Input and Output are required.
type Job struct {
	Encoder *encoder.Encoder
	// ModelDir is the encoder's model directory; its tokenizer files are
	// part of the options digest ("" leaves them out).
	ModelDir string
	// Input is a corpus file (.txt, .csv, .tsv, .jsonl), or "-" for Stdin:
	// JSON Lines ({"id": ..., "text": ...}) or plain text lines.
	Input string
	Stdin io.Reader
	// Format overrides the input format (the file extension; for a
	// stream, JSON Lines when the first non-blank line starts with '{').
	Format corpus.Format
	// TextColumn is the text column of a file (detected when empty) or the
	// text key of a JSON Lines stream (default "text").
	TextColumn string
	// IDColumn is the key of a JSON Lines stream echoed back as "id"
	// (default "id").
	IDColumn string
	// Output is an .npy or .jsonl file, "-" for JSON Lines on Stdout, or
	// a directory (a path ending in "/", or an existing directory) that
	// receives shard Shard of Shards as part-0000I-of-0000N.npy with its
	// manifest.
	Output string
	Stdout io.Writer
	// Encoding is how JSON Lines outputs hold the vectors.
	Encoding Encoding
	// Shard and Shards select the rows with index mod Shards == Shard.
	Shard, Shards int
	// Resume decides about a partial output of an earlier run.
	Resume Resume
	// CheckpointEvery is the time between checkpoints of a resumable
	// output; 0 checkpoints after every chunk.
	CheckpointEvery time.Duration
	// OnError is for lines of a stream that cannot be read.
	OnError OnError
	// ChunkRows is the rows per chunk (default encoder.ChunkRows).
	ChunkRows int
	// Log receives what the run decided (resuming, skipping, bad lines).
	Log io.Writer
	// Progress, when set, is called after every chunk.
	Progress func(Progress)
}

// Progress is a run's state after a chunk.
type Progress struct {
	// Rows is the rows in the output so far (kept ones included), NewRows
	// the rows this run embedded.
	Rows, NewRows int
	// BytesRead of BytesTotal input bytes have been read (BytesTotal is 0
	// for a stream): the fraction done, for an ETA. BytesAtStart were read
	// by the run that a resumed run continues.
	BytesRead, BytesTotal, BytesAtStart int64
}

// Summary is what a run did.
type Summary struct {
	// Output is the path written ("-" for a stream).
	Output string
	// Rows is the rows in the output, NewRows the rows this run embedded,
	// ResumedFrom the rows kept from a partial output.
	Rows, NewRows, ResumedFrom int
	// AlreadyComplete is true when the shard was found complete and
	// matching: nothing was done.
	AlreadyComplete bool
	// Skipped counts stream lines skipped under OnErrorSkip.
	Skipped int
	// InputFormat and TextColumn are how the input was read.
	InputFormat corpus.Format
	TextColumn  string
	// Options are the run's options (their digest is in checkpoints).
	Options Options
	// Totals over the whole output, resumed rows included.
	Tokens       int64
	Truncated    int
	InvalidUTF8  int
	PaddedTokens int64
	Elapsed      time.Duration
}

// ErrInterrupted is returned (wrapped in the error) when a run stops early
// with its partial output kept for resuming.
var ErrInterrupted = errors.New("interrupted")

func (j *Job) defaults() error {
	if j.Encoder == nil {
		return errors.New("no encoder")
	}
	if j.Input == "" || j.Output == "" {
		return errors.New("an input and an output are required")
	}
	if j.Shards == 0 {
		j.Shards = 1
	}
	if j.Shards < 1 || j.Shard < 0 || j.Shard >= j.Shards {
		return fmt.Errorf("shard %d of %d: want 0 <= shard < shards", j.Shard, j.Shards)
	}
	if j.ChunkRows <= 0 {
		j.ChunkRows = encoder.ChunkRows
	}
	if j.Log == nil {
		j.Log = io.Discard
	}
	if j.Stdin == nil {
		j.Stdin = os.Stdin
	}
	if j.Stdout == nil {
		j.Stdout = os.Stdout
	}
	if j.IDColumn == "" {
		j.IDColumn = "id"
	}
	if j.Input == "-" {
		if j.Shards > 1 {
			return errors.New("--shard splits a file; a stream is split upstream (each Spark partition, say, is a stream of its own)")
		}
		if j.Resume == ResumeRequire {
			return errors.New("--resume needs an input file: a stream cannot be read again")
		}
	}
	if j.Output == "-" && j.Resume == ResumeRequire {
		return errors.New("--resume needs an output file: a stream cannot be continued")
	}
	return nil
}

// outputKind is what Output names.
type outputKind int

const (
	outStream outputKind = iota
	outNPY
	outJSONL
	outShardDir
)

// IsDir reports whether an output path names a shard directory: it ends
// in a path separator or is an existing directory.
func IsDir(output string) bool {
	if strings.HasSuffix(output, "/") || strings.HasSuffix(output, string(os.PathSeparator)) {
		return true
	}
	st, err := os.Stat(output)
	return err == nil && st.IsDir()
}

// resolveOutput returns the kind of output and the file written.
func (j *Job) resolveOutput() (outputKind, string, error) {
	switch {
	case j.Output == "-":
		return outStream, "-", nil
	case IsDir(j.Output):
		if j.Input == "-" {
			return 0, "", errors.New("a shard directory output needs an input file (each shard reads its rows from it)")
		}
		dir := filepath.Clean(j.Output)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, "", err
		}
		return outShardDir, filepath.Join(dir, shards.Name(j.Shard, j.Shards)), nil
	}
	switch strings.ToLower(filepath.Ext(j.Output)) {
	case ".npy":
		return outNPY, j.Output, nil
	case ".jsonl":
		return outJSONL, j.Output, nil
	}
	return 0, "", fmt.Errorf("output %s: want an .npy or .jsonl file, - for stdout, or a directory ending in / for shards", j.Output)
}

func (j *Job) options(kind outputKind, format corpus.Format, textCol string) (Options, error) {
	info := j.Encoder.Info()
	tokens, rows := j.Encoder.BatchLimits()
	tok, err := tokenizerDigest(j.ModelDir)
	if err != nil {
		return Options{}, fmt.Errorf("hashing the tokenizer: %w", err)
	}
	out := map[outputKind]string{outStream: "jsonl", outNPY: "npy", outJSONL: "jsonl", outShardDir: "npy"}[kind]
	if out == "jsonl" && j.Encoding == EncodingBase64 {
		out += "+base64"
	}
	return Options{
		Model: info.Name, ModelDigest: info.Digest, TokenizerDigest: tok, Dim: info.Dim,
		Pooling: info.Pooling, Normalize: info.Normalize, MaxLength: info.MaxLength,
		BatchTokens: tokens, MaxBatch: rows, ChunkRows: j.ChunkRows, Device: info.Device,
		InputFormat: format.String(), TextColumn: textCol, Output: out, Shards: j.Shards,
	}, nil
}

// Run embeds the input into the output. A run over a file into a file or
// a shard directory is resumable: its output grows as partial data with a
// checkpoint (see package doc), and an interrupted run (error wrapping
// ErrInterrupted, or a kill) is continued by the next run with the same
// options.
func Run(ctx context.Context, job Job) (*Summary, error) {
	t0 := time.Now()
	if err := job.defaults(); err != nil {
		return nil, err
	}
	kind, out, err := job.resolveOutput()
	if err != nil {
		return nil, err
	}
	var sum *Summary
	if job.Input == "-" {
		sum, err = job.runStream(ctx, kind, out)
	} else {
		sum, err = job.runFile(ctx, kind, out)
	}
	if sum != nil {
		sum.Elapsed = time.Since(t0)
	}
	return sum, err
}

func (s *Summary) add(r *encoder.Result) {
	s.Rows += len(r.Vectors)
	s.NewRows += len(r.Vectors)
	s.Tokens += int64(r.Tokens())
	s.Truncated += r.Truncated
	s.InvalidUTF8 += r.InvalidUTF8
	s.PaddedTokens += int64(r.PaddedTokens)
}

func (s *Summary) totals() totals {
	return totals{Tokens: s.Tokens, Truncated: s.Truncated, InvalidUTF8: s.InvalidUTF8, PaddedTokens: s.PaddedTokens}
}

// runStream embeds stdin: JSON Lines or plain lines.
func (j *Job) runStream(ctx context.Context, kind outputKind, out string) (*Summary, error) {
	opts, err := j.options(kind, j.Format, j.TextColumn)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Output: out, Options: opts, InputFormat: j.Format}
	textKey := j.TextColumn
	if textKey == "" {
		textKey = "text"
	}
	if j.Format != corpus.FormatAuto && j.Format != corpus.FormatJSONL && j.Format != corpus.FormatText {
		return nil, fmt.Errorf("a stream is JSON Lines or plain text lines, not %v", j.Format)
	}
	src := newLineSource(ctx, j.Stdin, lineOptions{
		format: j.Format, textKey: textKey, idKey: j.IDColumn, skip: j.OnError == OnErrorSkip,
		log: j.Log, chunkRows: j.ChunkRows, idle: IdleFlush,
		onFormatKnown: func(f corpus.Format) { sum.InputFormat = f },
	})
	var snk sink
	switch kind {
	case outStream:
		snk = newJSONLSink(nil, j.Stdout, j.Encoding, 0)
	default:
		f, err := atomicfile.Create(out)
		if err != nil {
			return nil, err
		}
		if kind == outNPY {
			if snk, err = newNPYSink(tempOut{f}, opts.Dim, 0); err != nil {
				f.Abort()
				return nil, err
			}
		} else {
			snk = newJSONLSink(tempOut{f}, nil, j.Encoding, 0)
		}
	}
	err = encoder.EmbedStream(ctx, j.Encoder, src.next, func(t *tag, r *encoder.Result) error {
		for k, v := range r.Vectors {
			if err := snk.write(t.indexes[k], t.ids[k], v); err != nil {
				return err
			}
		}
		sum.add(r)
		if j.Progress != nil {
			j.Progress(Progress{Rows: sum.Rows, NewRows: sum.NewRows})
		}
		return snk.endChunk()
	})
	sum.Skipped = int(src.skipped.Load())
	if sum.InputFormat == corpus.FormatJSONL {
		sum.TextColumn = textKey
	}
	if err != nil {
		snk.abort()
		if ctx.Err() != nil {
			return sum, fmt.Errorf("%w after %d rows", ErrInterrupted, sum.Rows)
		}
		return sum, err
	}
	return sum, snk.finish(sum.Rows)
}
