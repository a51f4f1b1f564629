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
	"mime"
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
// that already exists and verifies is kept as it is. When the CDN refuses
// the download link (its signed links expire after about an hour) fetch
// asks the hub for a fresh one and resumes from the current offset.
// Errors say what went wrong, not which file: the caller adds that.
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
	// failures counts attempts in a row that got nothing, refusals links
	// in a row the CDN refused, restarts servers ignoring Range.
	failures, refusals, restarts := 0, 0, 0
	for f.Size < 0 || off < f.Size {
		n, done, err := p.attempt(ctx, fh, &f, off)
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
				return fmt.Errorf("the server keeps ignoring or rejecting Range requests (%d restarts)", restarts-1)
			}
			if off, err = restart(fh); err != nil {
				return err
			}
			continue
		}
		if n > 0 {
			failures, refusals = 0, 0 // only attempts that got nothing count towards the limits
		}
		var refused *linkRefusedError
		if errors.As(err, &refused) {
			if refusals++; refusals > p.MaxRetries {
				p.progress.fail(f.Path)
				return fmt.Errorf("%s answered %s to %d download links in a row, fresh ones from the hub included (gave up at byte %d; if this persists, check whether a firewall or proxy blocks %s)",
					refused.who, refused.detail, refusals, off, refused.who)
			}
			if refusals > 1 {
				if err := p.sleep(ctx, backoff(refusals-1)); err != nil {
					return err
				}
			}
			p.progress.refresh(f.Path, off, err)
			nf, err := p.stat(ctx, f.Rev, f.Path)
			if err != nil {
				p.progress.fail(f.Path)
				return fmt.Errorf("asking the hub for a fresh download link: %w", err)
			}
			if nf.Size < 0 {
				nf.Size = f.Size // learned from the CDN's earlier answer
			}
			if !nf.sameContent(f) {
				// Not at a pinned commit on the hub; a mirror might.
				p.progress.note("%s changed on the server since the download started; starting it again", f.Path)
				if off, err = restart(fh); err != nil {
					return err
				}
			}
			f = nf
			continue
		}
		failures++
		if !retryable(ctx, err) {
			p.progress.fail(f.Path)
			return err
		}
		if failures > p.MaxRetries {
			p.progress.fail(f.Path)
			return fmt.Errorf("%w (gave up after %d retries at byte %d)", err, p.MaxRetries, off)
		}
		d, werr := p.retryDelay(failures, err)
		if werr != nil {
			p.progress.fail(f.Path)
			return werr
		}
		p.progress.retry(f.Path, off, err, d)
		if err := p.sleep(ctx, d); err != nil {
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
		return err
	}
	if err := os.Rename(part, dst); err != nil {
		return err
	}
	p.progress.done(f.Path, off, f.check())
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
// size is unknown). When the hub did not announce the size, the first
// answer that states it (Content-Length of a 200, the total of a
// Content-Range) sets f.Size, so that later resumes and the final check
// hold the download to it.
func (p *puller) attempt(ctx context.Context, fh *os.File, f *remoteFile, off int64) (n int64, done bool, err error) {
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
	// Not p.send: a failed dial here (the CDN, or the network flapping
	// mid-pull) is retried like a dropped connection, from the offset.
	resp, err := p.follow.Do(req)
	if err != nil {
		return 0, false, stallCause(actx, err)
	}
	defer resp.Body.Close()
	total := int64(-1)
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		if start, ok := contentRangeStart(cr); !ok || start != off {
			return 0, false, errRestart
		}
		total = contentRangeTotal(cr)
	case resp.StatusCode == http.StatusOK:
		if off > 0 {
			return 0, false, errRestart // Range ignored: the body starts at byte 0
		}
		total = resp.ContentLength
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return 0, false, errRestart
	case isLinkRefusal(resp.StatusCode) && resp.Request.URL.Host != p.endpointHost:
		return 0, false, &linkRefusedError{who: p.who(resp), detail: resp.Status}
	default:
		return 0, false, p.httpError(resp)
	}
	if ct := resp.Header.Get("Content-Type"); isHTML(ct) && !p.AllowMissingHubHeaders && !strings.HasSuffix(f.Path, ".html") {
		return 0, false, fmt.Errorf("%w: %s answered the download with a web page (Content-Type %s); a captive portal (open any web page in a browser to log in) or a proxy answers like this",
			ErrNotHub, p.who(resp), ct)
	}
	if total >= 0 {
		if f.Size < 0 {
			f.Size = total
			p.progress.setSize(total)
		} else if total != f.Size {
			return 0, false, fmt.Errorf("%w: %s serves %d bytes, the hub announced %d (run the command again; if it persists, a proxy is changing the file)",
				ErrChecksum, p.who(resp), total, f.Size)
		}
	}
	src := &watchedReader{r: resp.Body, watchdog: watchdog, stall: p.StallTimeout, progress: p.progress}
	n, err = io.Copy(fh, src)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errShort
	}
	if err != nil {
		return n, false, stallCause(actx, err)
	}
	return n, true, nil
}

// isHTML reports whether a Content-Type is a web page, which no model
// file is served as.
func isHTML(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
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

// contentRangeTotal parses "bytes 100-999/1000" into 1000; -1 when the
// total is unknown ("*") or the header malformed.
func contentRangeTotal(s string) int64 {
	_, total, ok := strings.Cut(s, "/")
	if !ok {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
	if err != nil || v < 0 {
		return -1
	}
	return v
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
		return fmt.Errorf("%w: the file has %d bytes, the hub announced %d (run the command again to download it anew)", ErrChecksum, st.Size(), f.Size)
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
		return fmt.Errorf("%w: the file hashes to %s, the hub announced %s (corrupted in transit or by a proxy; run the command again to download it anew)", ErrChecksum, got, want)
	}
	return nil
}
