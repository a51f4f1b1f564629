package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bertserve/bertserve/encoder/stream"
)

// streamProgress draws embed's progress line on a terminal and stays
// silent otherwise. The total row count of a file is not known in advance
// (counting would mean reading the corpus twice), so the fraction done and
// the ETA are estimated from the input bytes read, and say so ("~").
type streamProgress struct {
	w     io.Writer
	tty   bool
	file  bool
	start time.Time
	last  time.Time
	drawn bool
}

func newStreamProgress(w io.Writer, file bool) *streamProgress {
	return &streamProgress{w: w, tty: isTerminal(w), file: file, start: time.Now()}
}

func (p *streamProgress) update(s stream.Progress) {
	if !p.tty {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := float64(s.NewRows) / max(el, 1e-9)
	if !p.file || s.BytesTotal <= 0 {
		fmt.Fprintf(p.w, "\r%d rows  %.0f/s ", s.Rows, rate)
		p.drawn = true
		return
	}
	frac := float64(s.BytesRead) / float64(s.BytesTotal)
	const width = 30
	n := min(int(frac*width), width)
	bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
	eta := "?"
	// A resumed run's kept part (BytesAtStart) is not this run's speed.
	if byteRate := float64(s.BytesRead-s.BytesAtStart) / max(el, 1e-9); byteRate > 0 {
		eta = "~" + (time.Duration(float64(s.BytesTotal-s.BytesRead)/byteRate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%s] ~%3.0f%% (of the input's bytes)  %d rows  %.0f/s  ETA %s ", bar, 100*frac, s.Rows, rate, eta)
	p.drawn = true
}

// done ends the progress line.
func (p *streamProgress) done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
