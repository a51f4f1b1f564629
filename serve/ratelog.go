package serve

import (
	"sync"
	"time"
)

// rateLog turns a flood of identical events (requests refused with 429)
// into one log line per interval with a count, so overload cannot fill
// the disk with log lines: the first event is reported at once, later
// ones at most once per interval, with how many there were.
type rateLog struct {
	every time.Duration
	mu    sync.Mutex
	n     int64     // events since the last report
	last  time.Time // time of the last report
}

// hit counts one event and reports whether to log now, and how many
// events the line stands for.
func (r *rateLog) hit(now time.Time) (report bool, count int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		return false, 0
	}
	count, r.n, r.last = r.n, 0, now
	return true, count
}
