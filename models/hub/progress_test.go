package hub

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func TestProgressTerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := &progress{w: &buf, terminal: true, now: fakeClock(time.Second)}
	p.start("model.safetensors", 4_000_000, 1_000_000)
	p.add(1_000_000)
	p.done("model.safetensors", 4_000_000, "checksum ok")
	out := buf.String()
	for _, s := range []string{"\r\033[K", "2.0 MB / 4.0 MB", "50%", "[==========          ]", "/s", "ETA", "checksum ok\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("terminal output lacks %q:\n%q", s, out)
		}
	}
}

func TestProgressLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := &progress{w: &buf, terminal: false, now: fakeClock(time.Second)}
	p.start("config.json", 600, 0)
	p.add(300)
	p.retry("config.json", 300, errors.New("connection reset"), 250*time.Millisecond)
	p.add(300)
	p.done("config.json", 600, "size checked only: no ETag")
	want := "config.json  interrupted at 300 B (connection reset), resuming in 0.2s\nconfig.json  600 B in "
	if got := buf.String(); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ", size checked only: no ETag\n") || strings.Count(got, "\n") != 2 {
		t.Errorf("line output:\n%q\nwant it to start %q and end with the size check", got, want)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1_234_567: "1.2 MB", 438_000_000: "438.0 MB", 5e12: "5.0 TB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{300 * time.Millisecond: "0.3s", 12 * time.Second: "12s", 185 * time.Second: "3:05", 3723 * time.Second: "1:02:03"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestBackoffBounded(t *testing.T) {
	t.Parallel()
	prev := time.Duration(0)
	for i := 1; i <= 20; i++ {
		d := backoff(i)
		if d < prev || d > 8*time.Second {
			t.Fatalf("backoff(%d) = %v after %v", i, d, prev)
		}
		prev = d
	}
	if backoff(1) != 250*time.Millisecond {
		t.Errorf("backoff(1) = %v", backoff(1))
	}
}
