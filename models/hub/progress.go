package hub

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports downloads on a writer: a redrawn bar with rate and ETA
// when the writer is a terminal, else one line per finished file (and per
// retry), which suits logs and CI.
type progress struct {
	w        io.Writer
	terminal bool
	now      func() time.Time

	name       string
	size, have int64 // size -1 when unknown; have counts resumed bytes too
	got        int64 // bytes received in this run
	started    time.Time
	lastDraw   time.Time
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, terminal: isTerminal(w), now: time.Now}
}

// isTerminal reports whether w is a character device (a TTY).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) start(name string, size, already int64) {
	p.name, p.size, p.have, p.got = name, size, already, 0
	p.started = p.now()
	p.lastDraw = time.Time{}
	if p.terminal {
		p.draw()
	}
}

func (p *progress) add(n int64) {
	p.have += n
	p.got += n
	if p.terminal && p.now().Sub(p.lastDraw) >= 100*time.Millisecond {
		p.draw()
	}
}

// rate is bytes per second received in this run.
func (p *progress) rate() float64 {
	el := p.now().Sub(p.started).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(p.got) / el
}

func (p *progress) draw() {
	p.lastDraw = p.now()
	line := fmt.Sprintf("%s  %s", p.name, formatBytes(p.have))
	if p.size >= 0 {
		pct := 100.0
		if p.size > 0 {
			pct = 100 * float64(p.have) / float64(p.size)
		}
		line += fmt.Sprintf(" / %s  %s %3.0f%%", formatBytes(p.size), bar(pct, 20), pct)
	}
	if r := p.rate(); r > 0 {
		line += fmt.Sprintf("  %s/s", formatBytes(int64(r)))
		if p.size >= 0 && p.have < p.size {
			line += "  ETA " + formatDuration(time.Duration(float64(p.size-p.have)/r*float64(time.Second)))
		}
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
}

func (p *progress) endLine(msg string) {
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s\n", msg)
		return
	}
	fmt.Fprintln(p.w, msg)
}

// setSize records a size learned during the download (the hub did not
// announce it).
func (p *progress) setSize(n int64) { p.size = n }

// done ends a file's line; check says how it was checked ("checksum ok",
// "size checked only: why").
func (p *progress) done(name string, size int64, check string) {
	el := p.now().Sub(p.started)
	msg := fmt.Sprintf("%s  %s in %s", name, formatBytes(size), formatDuration(el))
	if r := p.rate(); r > 0 && el >= time.Second {
		msg += fmt.Sprintf(" (%s/s)", formatBytes(int64(r)))
	}
	p.endLine(msg + ", " + check)
}

func (p *progress) skip(name string, size int64) {
	p.endLine(fmt.Sprintf("%s  %s already downloaded and verified", name, formatBytes(max(size, 0))))
}

// retry reports a failed attempt and the wait before the next: a
// download interrupted at byte at, or a request (at 0) that failed.
func (p *progress) retry(name string, at int64, err error, wait time.Duration) {
	var se *statusError
	switch {
	case errors.As(err, &se) && se.status == 429:
		p.endLine(fmt.Sprintf("%s  %v; waiting %s as the hub asks", name, err, formatDuration(wait)))
	case at > 0:
		p.endLine(fmt.Sprintf("%s  interrupted at %s (%v), resuming in %s", name, formatBytes(at), err, formatDuration(wait)))
	default:
		p.endLine(fmt.Sprintf("%s  %v; retrying in %s", name, err, formatDuration(wait)))
	}
}

// refresh reports a download link the CDN refused, and that a fresh one
// is being fetched from the hub.
func (p *progress) refresh(name string, at int64, err error) {
	p.endLine(fmt.Sprintf("%s  %v at %s; getting a fresh download link from the hub", name, err, formatBytes(at)))
}

func (p *progress) fail(name string) {
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// note prints a free-form line (what Pull is doing between downloads).
func (p *progress) note(format string, args ...any) {
	p.endLine(fmt.Sprintf(format, args...))
}

func bar(pct float64, width int) string {
	full := int(pct / 100 * float64(width))
	full = max(0, min(full, width))
	b := make([]byte, 0, width+2)
	b = append(b, '[')
	for i := range width {
		if i < full {
			b = append(b, '=')
		} else {
			b = append(b, ' ')
		}
	}
	return string(append(b, ']'))
}

// formatBytes writes n with a decimal unit: 999 B, 1.2 kB, 438.0 MB.
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %cB", v, " kMGT"[i])
}

// formatDuration writes d as 0.3s, 12s, 3:05 or 1:02:03.
func formatDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}
