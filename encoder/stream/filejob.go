package stream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/encoder/corpus"
	"github.com/bertserve/bertserve/encoder/npy"
	"github.com/bertserve/bertserve/encoder/shards"
)

// runFile embeds one shard of a corpus file. Into a file or a shard
// directory it is resumable; into a stream it is not.
func (j *Job) runFile(ctx context.Context, kind outputKind, out string) (*Summary, error) {
	r, err := corpus.Open(j.Input, corpus.Options{Format: j.Format, TextColumn: j.TextColumn})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	st, err := os.Stat(j.Input)
	if err != nil {
		return nil, err
	}
	info := r.Info()
	opts, err := j.options(kind, info.Format, info.TextColumn)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Output: out, Options: opts, InputFormat: info.Format, TextColumn: info.TextColumn}
	src := &fileSource{ctx: ctx, r: r, shard: j.Shard, shards: j.Shards, chunkRows: j.ChunkRows}
	if kind == outStream {
		return sum, j.embed(ctx, src, newJSONLSink(nil, j.Stdout, j.Encoding, 0), sum, st.Size(), nil)
	}
	if kind == outShardDir {
		done, err := j.shardDone(out, opts, st.Size())
		if err != nil || done {
			sum.AlreadyComplete = done
			return sum, err
		}
	}
	p, err := atomicfile.OpenPartial(out)
	if errors.Is(err, atomicfile.ErrLocked) {
		return nil, fmt.Errorf("%s is being written by another `bertserve embed` right now (its partial output is locked); let it finish, or stop it first", out)
	}
	if err != nil {
		return nil, err
	}
	res, err := j.resumePoint(p, out, opts)
	if err != nil {
		p.Close()
		return nil, err
	}
	if res.hasher == nil {
		if res.hasher, err = newPrefixHasher(j.Input); err != nil {
			p.Close()
			return nil, err
		}
	}
	defer res.hasher.close()
	if res.cp == nil {
		// Starting afresh: an old checkpoint must not outlive the old rows.
		if err := os.Remove(atomicfile.PartialManifestPath(out)); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.Close()
			return nil, err
		}
	}
	if err := p.Truncate(res.size); err != nil {
		p.Close()
		return nil, fmt.Errorf("%w; pass --resume=false to start over", err)
	}
	if res.cp != nil {
		if err := r.ResumeAt(res.cp.Input.Offset, res.cp.Input.Line); err != nil {
			p.Close()
			return nil, err
		}
		src.pos = res.cp.Input.position
		sum.Rows, sum.ResumedFrom = res.cp.Rows, res.cp.Rows
		t := res.cp.Totals
		sum.Tokens, sum.Truncated, sum.InvalidUTF8, sum.PaddedTokens = t.Tokens, t.Truncated, t.InvalidUTF8, t.PaddedTokens
	}
	var snk sink
	if kind == outJSONL {
		snk = newJSONLSink(partialOut{p}, nil, j.Encoding, res.size)
	} else if snk, err = newNPYSink(partialOut{p}, opts.Dim, res.size); err != nil {
		p.Close()
		return nil, err
	}
	cp := &checkpoint{Output: filepath.Base(out), Shard: j.Shard, Options: opts, OptionsDigest: opts.Digest(),
		Input: checkpointInput{Path: j.Input, position: src.pos}}
	if err := j.embed(ctx, src, snk, sum, st.Size(), &cpState{cp: cp, out: out, hasher: res.hasher}); err != nil {
		return sum, err
	}
	if kind == outShardDir {
		if err := j.writeShardManifest(out, opts, sum, src.pos.Rows, res.hasher); err != nil {
			return sum, err
		}
	}
	os.Remove(atomicfile.PartialManifestPath(out))
	return sum, nil
}

// cpState is what checkpointing needs during a resumable run.
type cpState struct {
	cp     *checkpoint
	out    string
	hasher *prefixHasher
	last   time.Time
}

// embed runs the stream from src into snk, checkpointing when cps is set.
func (j *Job) embed(ctx context.Context, src *fileSource, snk sink, sum *Summary, size int64, cps *cpState) error {
	pos := src.pos
	start := pos.Offset
	checkpoint := func() error {
		n, err := snk.durable(sum.Rows)
		if err != nil {
			return err
		}
		if err := cps.hasher.advance(pos.Offset); err != nil {
			return err
		}
		cps.cp.Input.position, cps.cp.Input.PrefixSHA256 = pos, cps.hasher.sum()
		cps.cp.Rows, cps.cp.OutputBytes, cps.cp.Totals = sum.Rows, n, sum.totals()
		cps.last = time.Now()
		return writeCheckpoint(cps.out, cps.cp)
	}
	if cps != nil {
		cps.last = time.Now()
	}
	writeFailed := false
	err := encoder.EmbedStream(ctx, j.Encoder, src.next, func(t *tag, r *encoder.Result) error {
		for k, v := range r.Vectors {
			if err := snk.write(t.indexes[k], nil, v); err != nil {
				writeFailed = true
				return err
			}
		}
		sum.add(r)
		pos = t.pos
		if err := snk.endChunk(); err != nil {
			writeFailed = true
			return err
		}
		if j.Progress != nil {
			j.Progress(Progress{Rows: sum.Rows, NewRows: sum.NewRows, BytesRead: pos.Offset, BytesTotal: size, BytesAtStart: start})
		}
		if cps != nil && time.Since(cps.last) >= j.CheckpointEvery {
			if err := checkpoint(); err != nil {
				writeFailed = true
				return fmt.Errorf("checkpoint: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		if cps == nil || writeFailed {
			snk.abort()
			if ctx.Err() != nil {
				return fmt.Errorf("%w after %d rows", ErrInterrupted, sum.Rows)
			}
			return err
		}
		// Keep what is done: the rows written so far are whole chunks.
		cerr := checkpoint()
		snk.abort()
		if cerr != nil {
			return errors.Join(err, fmt.Errorf("and the last checkpoint failed: %w", cerr))
		}
		if ctx.Err() != nil {
			err = ErrInterrupted
		}
		return fmt.Errorf("%w after %d rows; %d rows are kept in %s: run the same command again to continue from there (--resume=false starts over)",
			err, sum.Rows, sum.Rows, atomicfile.PartialPath(cps.out))
	}
	if cps != nil {
		// A last checkpoint: killed before the rename below, the next run
		// finds the whole output resumable and has nothing left to do.
		pos = src.pos
		if err := checkpoint(); err != nil {
			snk.abort()
			return err
		}
	}
	return snk.finish(sum.Rows)
}

// resumeState is where a resumable run starts.
type resumeState struct {
	cp     *checkpoint // nil: from the start
	size   int64       // output bytes kept
	hasher *prefixHasher
}

// resumePoint decides between continuing a partial output and starting
// afresh, and says which on the log.
func (j *Job) resumePoint(p *atomicfile.Partial, out string, opts Options) (resumeState, error) {
	cp, err := readCheckpoint(out)
	if err != nil {
		if j.Resume == ResumeNever {
			fmt.Fprintf(j.Log, "starting %s afresh (--resume=false): %v\n", out, err)
			return resumeState{}, nil
		}
		return resumeState{}, err
	}
	if cp == nil {
		if j.Resume == ResumeRequire {
			return resumeState{}, fmt.Errorf("--resume: there is no partial output of %s to continue (no %s); run without --resume to start", out, atomicfile.PartialManifestPath(out))
		}
		if n, _ := p.Size(); n > 0 {
			fmt.Fprintf(j.Log, "starting %s afresh: its partial output has no checkpoint yet\n", out)
		}
		return resumeState{}, nil
	}
	if j.Resume == ResumeNever {
		fmt.Fprintf(j.Log, "starting %s afresh (--resume=false): discarding a partial output of %d rows\n", out, cp.Rows)
		return resumeState{}, nil
	}
	h, why, err := j.matches(cp, p, opts)
	if err != nil {
		return resumeState{}, err
	}
	if why != "" {
		return resumeState{}, fmt.Errorf("%s has a partial output (%d rows, from %s) made %s; a partial output is never reused for another run: run again with the options it was made with to continue it, or pass --resume=false to delete it and start over",
			out, cp.Rows, cp.Updated.Local().Format(time.DateTime), why)
	}
	fmt.Fprintf(j.Log, "resuming %s from row %d (byte %d of the input, line %d; checkpoint of %s)\n",
		out, cp.Rows, cp.Input.Offset, cp.Input.Line, cp.Updated.Local().Format(time.DateTime))
	return resumeState{cp: cp, size: cp.OutputBytes, hasher: h}, nil
}

// matches checks a checkpoint against this run: options, shard, input
// (the bytes before its offset must hash the same) and the partial data.
// why is "" when they match; the hasher returned has hashed the prefix.
func (j *Job) matches(cp *checkpoint, p *atomicfile.Partial, opts Options) (h *prefixHasher, why string, err error) {
	if cp.OptionsDigest != opts.Digest() {
		if d := opts.differences(cp.Options); d != "" {
			return nil, "with other options: " + d, nil
		}
		return nil, "with other options", nil
	}
	if cp.Shard != j.Shard {
		return nil, fmt.Sprintf("for shard %d (this run: %d)", cp.Shard, j.Shard), nil
	}
	if n, err := p.Size(); err != nil || n < cp.OutputBytes {
		return nil, fmt.Sprintf("but its data is shorter (%d bytes) than the checkpoint claims (%d)", n, cp.OutputBytes), nil
	}
	if opts.Output == "npy" {
		hdr, err := npy.ReadHeader(io.NewSectionReader(p.File(), 0, 1<<16))
		if err != nil || hdr.Cols != opts.Dim || hdr.Size+int64(cp.Rows)*int64(4*opts.Dim) != cp.OutputBytes {
			return nil, "but its data does not hold the rows its checkpoint claims", nil
		}
	}
	h, err = newPrefixHasher(j.Input)
	if err != nil {
		return nil, "", err
	}
	if err := h.advance(cp.Input.Offset); err != nil {
		h.close()
		return nil, "from an input that has since shrunk", nil
	}
	if h.sum() != cp.Input.PrefixSHA256 {
		h.close()
		return nil, fmt.Sprintf("from an input whose first %d bytes have changed since", cp.Input.Offset), nil
	}
	return h, "", nil
}

// shardDone looks at the shard directory before a shard runs: shards of
// another run (other options or shard count) are refused, and a complete
// shard that matches this run is reported done.
func (j *Job) shardDone(out string, opts Options, inputSize int64) (bool, error) {
	dir := filepath.Dir(out)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	digest := opts.Digest()
	for _, e := range entries {
		i, n, ok := shards.ParseName(e.Name())
		if !ok || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		if n != j.Shards {
			return false, fmt.Errorf("%s already holds shards of a %d-shard run (%s), this run has %d shards: write to a new --output directory, or delete them", dir, n, e.Name(), j.Shards)
		}
		m, err := shards.ReadManifest(dir, i, n)
		if err != nil {
			return false, err
		}
		if m.OptionsDigest != digest || m.Input.Size != inputSize {
			why := "from another input"
			if m.OptionsDigest != digest {
				why = "with other options"
			}
			return false, fmt.Errorf("%s already holds %s, made %s (model %s, pooling %s): write to a new --output directory, or delete those shards", dir, e.Name(), why, m.Model, m.Pooling)
		}
	}
	m, err := shards.ReadManifest(dir, j.Shard, j.Shards)
	if errors.Is(err, shards.ErrNoManifest) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	h, err := newPrefixHasher(j.Input)
	if err != nil {
		return false, err
	}
	defer h.close()
	if _, err := h.rest(); err != nil {
		return false, err
	}
	if h.sum() != m.Input.SHA256 {
		return false, fmt.Errorf("%s was made from another version of %s (sha256 %s…, now %s…): write to a new --output directory, or delete the shards", out, j.Input, short(m.Input.SHA256), short(h.sum()))
	}
	if err := shards.Verify(dir, m); err != nil || !m.Complete {
		fmt.Fprintf(j.Log, "%s is damaged (%v); embedding it again\n", out, err)
		os.Remove(filepath.Join(dir, shards.ManifestName(j.Shard, j.Shards)))
		return false, nil
	}
	fmt.Fprintf(j.Log, "%s is complete and matches this run (%d rows, sha256 %s…): nothing to do\n", out, m.Rows, short(m.SHA256))
	return true, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// writeShardManifest records a finished shard: the data file's size and
// sha256, and the whole input's.
func (j *Job) writeShardManifest(out string, opts Options, sum *Summary, corpusRows int, h *prefixHasher) error {
	f, err := os.Open(out)
	if err != nil {
		return err
	}
	fh := sha256.New()
	n, err := io.Copy(fh, f)
	f.Close()
	if err != nil {
		return err
	}
	size, err := h.rest()
	if err != nil {
		return err
	}
	m := &shards.Manifest{
		Format: shards.FormatVersion, Shard: j.Shard, Shards: j.Shards, File: filepath.Base(out),
		Rows: sum.Rows, Dim: opts.Dim, Bytes: n, SHA256: hex.EncodeToString(fh.Sum(nil)),
		Model: opts.Model, ModelDigest: opts.ModelDigest, Pooling: opts.Pooling, Normalize: opts.Normalize,
		MaxLength: opts.MaxLength, OptionsDigest: opts.Digest(),
		Input:    shards.Input{Name: filepath.Base(j.Input), Size: size, SHA256: h.sum(), Rows: corpusRows},
		Complete: true, Created: time.Now().UTC(),
	}
	return shards.WriteManifest(filepath.Dir(out), m)
}
