package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// Sentinel errors. Pull wraps them with what was being fetched and what to
// do next; test them with errors.Is.
var (
	// ErrUnauthorized: the hub answered 401/403 or named the repo gated.
	ErrUnauthorized = errors.New("repo is gated or private: set HF_TOKEN")
	// ErrNotFound: the hub answered 404 for the repo, revision or a file.
	ErrNotFound = errors.New("no such repo or revision")
	// ErrUnreachable: no connection to the endpoint (DNS failure,
	// connection refused, no route, offline).
	ErrUnreachable = errors.New("the Hugging Face hub is unreachable")
	// ErrChecksum: a downloaded file's sha256 (or git blob sha1) or size
	// differs from what the hub announced.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrUnsupported: the repo has neither an ONNX export nor safetensors
	// weights bertserve can import (for instance only pytorch_model.bin).
	ErrUnsupported = errors.New("no loadable weights")
)

// httpError turns a non-2xx hub answer into an error wrapping one of the
// sentinels. The hub names the reason in X-Error-Code (RepoNotFound,
// RevisionNotFound, EntryNotFound, GatedRepo) and X-Error-Message; without
// a token it answers 401 RepoNotFound for private repos and missing ones
// alike, so that case mentions both.
func httpError(resp *http.Response, what string, haveToken bool) error {
	code := resp.Header.Get("X-Error-Code")
	msg := resp.Header.Get("X-Error-Message")
	detail := resp.Status
	if msg != "" {
		detail += ": " + msg
	}
	tokenHint := "HF_TOKEN is not set"
	if haveToken {
		tokenHint = "HF_TOKEN was sent: check that it has access to this repo (and that you accepted the model's conditions on its page)"
	}
	switch {
	case code == "RepoNotFound" && (resp.StatusCode == 401 || resp.StatusCode == 403):
		// The hub's answer to an anonymous request for a private repo and
		// for a repo that does not exist is the same.
		return fmt.Errorf("%s: %w (%s; %s; the hub answers the same when the repo does not exist, so check the id too)",
			what, ErrUnauthorized, detail, tokenHint)
	case code == "GatedRepo" || resp.StatusCode == 401 || resp.StatusCode == 403:
		return fmt.Errorf("%s: %w (%s; %s)", what, ErrUnauthorized, detail, tokenHint)
	case resp.StatusCode == 404 || code == "RepoNotFound" || code == "RevisionNotFound" || code == "EntryNotFound":
		return fmt.Errorf("%s: %w (%s): check the spelling of the repo id and --revision on the hub's web page", what, ErrNotFound, detail)
	}
	return &statusError{what: what, status: resp.StatusCode, detail: detail}
}

// statusError is any other HTTP failure; 429 and 5xx are retried.
type statusError struct {
	what   string
	status int
	detail string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: the hub answered %s", e.what, e.detail)
}

func (e *statusError) retryable() bool {
	return e.status == http.StatusTooManyRequests || e.status >= 500
}

// isUnreachable reports whether err means no connection could be made at
// all, as opposed to a connection that broke mid-transfer.
func isUnreachable(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.EHOSTDOWN) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return false
}

// unreachableError wraps ErrUnreachable with the endpoint and the two ways
// forward: a mirror, or files fetched elsewhere and imported.
func unreachableError(endpoint string, cause error) error {
	return fmt.Errorf("%w at %s (%v): set HF_ENDPOINT to a mirror, or download the files elsewhere and run `bertserve import --from DIR`",
		ErrUnreachable, endpoint, cause)
}

// retryable reports whether a failed attempt is worth resuming: transport
// errors after a connection was made, stalls, 429 and 5xx.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.retryable()
	}
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrChecksum) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, errStalled) || errors.Is(err, errShort) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "connection reset")
}

var (
	errStalled = errors.New("download stalled")
	errShort   = errors.New("connection closed before the end of the file")
)
