package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line bar with rate and ETA on a terminal and stays
// silent otherwise (logs and CI get the final summary line only).
type progress struct {
	w     io.Writer
	tty   bool
	total int
	unit  string
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, total int, unit string) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total, unit: unit, start: time.Now()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update redraws at most ten times a second, and always at the end.
func (p *progress) update(done int) {
	if !p.tty {
		return
	}
	now := time.Now()
	if done < p.total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := float64(done) / max(el, 1e-9)
	frac := float64(done) / float64(max(p.total, 1))
	const width = 30
	bar := strings.Repeat("=", int(frac*width)) + strings.Repeat(" ", width-int(frac*width))
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(p.total-done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%s] %d/%d %s  %.0f/s  ETA %s ", bar, done, p.total, p.unit, rate, eta)
	if done >= p.total {
		fmt.Fprintln(p.w)
	}
}
