package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// incompleteSuffix marks a file still being downloaded; a later attempt
// (in this run or the next) resumes it with a Range request.
const incompleteSuffix = ".incomplete"

// fetch downloads f to dst (via dst+".incomplete"), resuming after dropped
// connections, and checks the result against the hub's checksum. A dst
// that already exists and verifies is kept as it is.
func (p *puller) fetch(ctx context.Context, f remoteFile, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		if verr := verify(dst, f); verr == nil {
			p.progress.skip(f.Path, f.Size)
			return nil
		}
		if err := os.Remove(dst); err != nil {
			return err
		}
	}
	part := dst + incompleteSuffix
	fh, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer fh.Close()
	off, err := fh.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if f.Size >= 0 && off > f.Size {
		if off, err = restart(fh); err != nil {
			return err
		}
	}
	p.progress.start(f.Path, f.Size, off)
	failures, restarts := 0, 0
	for f.Size < 0 || off < f.Size {
		n, done, err := p.attempt(ctx, fh, f, off)
		off += n
		if err == nil {
			if f.Size < 0 && done || f.Size >= 0 && off >= f.Size {
				break
			}
			err = errShort
		}
		if errors.Is(err, errRestart) {
			if restarts++; restarts > p.MaxRetries {
				p.progress.fail(f.Path)
				return fmt.Errorf("downloading %s: the server keeps ignoring or rejecting Range requests (%d restarts)", f.Path, restarts-1)
			}
			if off, err = restart(fh); err != nil {
				return err
			}
			continue
		}
		if n > 0 {
			failures = 0 // only attempts that got nothing count towards the limit
		}
		failures++
		if !retryable(ctx, err) || failures > p.MaxRetries {
			p.progress.fail(f.Path)
			if failures > p.MaxRetries {
				return fmt.Errorf("downloading %s: %w (gave up after %d retries at byte %d; run the same command again to resume)", f.Path, err, p.MaxRetries, off)
			}
			return fmt.Errorf("downloading %s: %w", f.Path, err)
		}
		p.progress.retry(f.Path, off, err)
		if err := sleep(ctx, backoff(failures)); err != nil {
			return err
		}
	}
	if err := fh.Sync(); err != nil {
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	if err := verify(part, f); err != nil {
		os.Remove(part)
		p.progress.fail(f.Path)
		return fmt.Errorf("downloading %s: %w", f.Path, err)
	}
	if err := os.Rename(part, dst); err != nil {
		return err
	}
	p.progress.done(f.Path, off, f.SHA256 != "" || f.GitSHA1 != "")
	return nil
}

// errRestart asks fetch to discard the partial file and start over (the
// server ignored or rejected the Range request).
var errRestart = errors.New("restart from byte 0")

func restart(fh *os.File) (int64, error) {
	if err := fh.Truncate(0); err != nil {
		return 0, err
	}
	return fh.Seek(0, io.SeekStart)
}

// attempt does one GET from byte off and appends what arrives to fh. done
// is true when the server signalled the end of the file (needed when the
// size is unknown).
func (p *puller) attempt(ctx context.Context, fh *os.File, f remoteFile, off int64) (n int64, done bool, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := p.newRequest(actx, http.MethodGet, f.Location)
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	watchdog := time.AfterFunc(p.StallTimeout, func() { cancel(errStalled) })
	defer watchdog.Stop()
	// Not p.do: a failed dial here (the CDN, or the network flapping
	// mid-pull) is retried like a dropped connection.
	resp, err := p.HTTPClient.Do(req)
	if err != nil {
		return 0, false, stallCause(actx, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != off {
			return 0, false, errRestart
		}
	case resp.StatusCode == http.StatusOK:
		if off > 0 {
			return 0, false, errRestart // Range ignored: the body starts at byte 0
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return 0, false, errRestart
	default:
		return 0, false, httpError(resp, "downloading "+f.Path, p.Token != "")
	}
	src := &watchedReader{r: resp.Body, watchdog: watchdog, stall: p.StallTimeout, progress: p.progress}
	n, err = io.Copy(fh, src)
	if err != nil {
		return n, false, stallCause(actx, err)
	}
	return n, true, nil
}

// stallCause reports errStalled when the watchdog cancelled the attempt.
func stallCause(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return fmt.Errorf("%w: %v", errStalled, err)
	}
	return err
}

// watchedReader resets the stall watchdog and feeds the progress bar on
// every read.
type watchedReader struct {
	r        io.Reader
	watchdog *time.Timer
	stall    time.Duration
	progress *progress
}

func (w *watchedReader) Read(b []byte) (int, error) {
	n, err := w.r.Read(b)
	if n > 0 {
		w.watchdog.Reset(w.stall)
		w.progress.add(int64(n))
	}
	return n, err
}

// contentRangeStart parses "bytes 100-999/1000" into 100.
func contentRangeStart(s string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	return v, err == nil && v >= 0
}

// backoff is the wait before the failures-th consecutive retry: 250ms,
// 500ms, 1s ... capped at 8s.
func backoff(failures int) time.Duration {
	d := 250 * time.Millisecond << min(failures-1, 5)
	return min(d, 8*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// verify checks a file's size and, when the hub gave one, its sha256 (LFS
// files) or git blob sha1 (files stored in git: sha1 of "blob <size>\0"
// followed by the content).
func verify(path string, f remoteFile) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if f.Size >= 0 && st.Size() != f.Size {
		return fmt.Errorf("%w: %s has %d bytes, the hub announced %d", ErrChecksum, f.Path, st.Size(), f.Size)
	}
	var h hash.Hash
	var want string
	switch {
	case f.SHA256 != "":
		h, want = sha256.New(), f.SHA256
	case f.GitSHA1 != "":
		h, want = sha1.New(), f.GitSHA1
		fmt.Fprintf(h, "blob %d\x00", st.Size())
	default:
		return nil
	}
	if _, err := io.Copy(h, fh); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: %s hashes to %s, the hub announced %s (corrupted in transit or by a proxy; run the command again)", ErrChecksum, f.Path, got, want)
	}
	return nil
}
