package encoder

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// HiddenPlan is what FillHidden is about to do, reported before any
// encoder work so the caller can say it.
type HiddenPlan struct {
	// Texts and Unique count the texts asked for; Cached is how many of
	// the unique ones are in the cache already.
	Texts, Unique, Cached int
	// Compute is the number of texts the bottom will run on, Tokens their
	// real tokens, Bytes what they will add to the cache file.
	Compute, Tokens int
	Bytes           int64
	// Truncated counts the texts to compute cut to the maximum length.
	Truncated int
	// Free is the space left on the cache's file system (-1: unknown).
	Free int64
	Path string
	// DType is the storage type.
	DType string
}

// DiskFullError is returned by FillHidden when the cache would not fit.
type DiskFullError struct {
	Plan HiddenPlan
}

func (e *DiskFullError) Error() string {
	p := e.Plan
	hint := ""
	if p.DType == HiddenFloat32 {
		hint = ", or store float16 (half the size)"
	}
	return fmt.Sprintf("the hidden-state cache needs %s more for %d texts (%d tokens, %s), but %s has only %s free: free some space, put the cache elsewhere with --cache-dir, or train on fewer texts or a smaller --max-length%s",
		FormatBytes(p.Bytes), p.Compute, p.Tokens, p.DType, filepath.Dir(p.Path), FormatBytes(p.Free), hint)
}

// HiddenFillStats describe a finished FillHidden.
type HiddenFillStats struct {
	HiddenPlan
	// Batches is the number of bottom runs; Duration the wall time of the
	// whole fill (tokenizing included).
	Batches  int
	Duration time.Duration
}

// FillOptions tune FillHidden.
type FillOptions struct {
	// Plan, when set, is called once the work is known and before any of
	// it starts; an error from it stops the fill.
	Plan func(HiddenPlan) error
	// Progress, when set, is called after each flush with the texts done
	// so far out of Compute.
	Progress func(done, total int)
	// FlushBytes is how much is written at a time; default 16 MiB.
	FlushBytes int
	// Reserve is free space to leave on the disk; default 64 MiB.
	Reserve int64
}

// FillHidden makes sure the hidden states of every text are in c,
// running the bottom once on each text that is missing (duplicates run
// once), and returns a view of all of them in order. Before running it
// estimates the size from the token counts, and stops with a
// *DiskFullError when the file system would not hold it.
func FillHidden(ctx context.Context, b *Bottom, c *HiddenCache, texts []string, opt FillOptions) (*HiddenStates, *HiddenFillStats, error) {
	t0 := time.Now()
	if b.Hidden() != c.Hidden() {
		return nil, nil, fmt.Errorf("the bottom gives %d-wide hidden states, the cache holds width %d", b.Hidden(), c.Hidden())
	}
	if opt.FlushBytes <= 0 {
		opt.FlushBytes = 16 << 20
	}
	if opt.Reserve <= 0 {
		opt.Reserve = 64 << 20
	}
	st := &HiddenFillStats{HiddenPlan: HiddenPlan{Texts: len(texts), Path: c.Path(), DType: c.DType(), Free: -1}}
	seen := map[string]bool{}
	var todo []string
	for _, t := range texts {
		if seen[t] {
			continue
		}
		seen[t] = true
		if !c.Has(t) {
			todo = append(todo, t)
		}
	}
	st.Unique = len(seen)
	st.Cached = st.Unique - len(todo)
	encs := b.Tokenize(todo)
	for _, e := range encs {
		st.Tokens += len(e.IDs)
		st.Bytes += c.RecordSize(len(e.IDs))
		if e.Truncated {
			st.Truncated++
		}
	}
	st.Compute = len(todo)
	if len(todo) > 0 {
		free, err := FreeBytes(filepath.Dir(c.Path()))
		switch {
		case err == nil:
			st.Free = free
			if st.Bytes+opt.Reserve > free {
				return nil, nil, &DiskFullError{Plan: st.HiddenPlan}
			}
		case errors.Is(err, ErrNoStatfs):
		default:
			return nil, nil, err
		}
	}
	if opt.Plan != nil {
		if err := opt.Plan(st.HiddenPlan); err != nil {
			return nil, nil, err
		}
	}
	if len(todo) > 0 {
		var batch hiddenBatch
		done := 0
		err := b.Run(ctx, encs, func(i int, h []float32, T int) error {
			if err := c.add(&batch, todo[i], h, T); err != nil {
				return err
			}
			done++
			if len(batch.buf) >= opt.FlushBytes {
				if err := c.flush(&batch); err != nil {
					return err
				}
				if opt.Progress != nil {
					opt.Progress(done, len(todo))
				}
			}
			return nil
		})
		if err == nil {
			err = c.flush(&batch)
		}
		if err != nil {
			return nil, nil, err
		}
		if opt.Progress != nil {
			opt.Progress(done, len(todo))
		}
		lengths := make([]int, len(encs))
		for i, e := range encs {
			lengths[i] = len(e.IDs)
		}
		st.Batches = len(PlanBatches(lengths, b.enc.opts.BatchTokens, b.enc.opts.MaxBatch))
	}
	view, err := c.View(texts)
	if err != nil {
		return nil, nil, err
	}
	st.Duration = time.Since(t0)
	return view, st, nil
}

// FormatBytes writes n in B, KB, MB or GB (powers of 1000, one decimal).
func FormatBytes(n int64) string {
	switch {
	case n < 0:
		return "an unknown amount"
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}
