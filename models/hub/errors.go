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
	"time"
)

// Sentinel errors. Pull wraps them with what was being fetched and what to
// do next; test them with errors.Is.
var (
	// ErrUnauthorized: the hub answered 401/403 or named the repo gated.
	ErrUnauthorized = errors.New("repo is gated or private: set HF_TOKEN")
	// ErrNotFound: the hub answered 404 for the repo, revision or a file.
	ErrNotFound = errors.New("no such repo or revision")
	// ErrDisabled: the hub has disabled the repo (403 with X-Error-Message
	// "Access to this resource is disabled."); no token changes that.
	ErrDisabled = errors.New("the hub has disabled this repo")
	// ErrUnreachable: no connection to the endpoint (DNS failure,
	// connection refused, no route, offline).
	ErrUnreachable = errors.New("the Hugging Face hub is unreachable")
	// ErrNotHub: the endpoint answered, but not as a Hugging Face hub or
	// mirror does (a file answer without X-Repo-Commit or ETag, an API
	// answer that is not the hub's JSON): a captive portal, a proxy's error
	// page or a wrong HF_ENDPOINT. Options.AllowMissingHubHeaders accepts
	// mirrors that leave out the headers.
	ErrNotHub = errors.New("this does not look like a Hugging Face hub")
	// ErrRateLimited: the hub kept answering 429, or asked to wait longer
	// than Pull waits (ten minutes).
	ErrRateLimited = errors.New("rate limited by the hub")
	// ErrChecksum: a downloaded file's sha256 (or git blob sha1) or size
	// differs from what the hub announced.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrUnsupported: the repo has neither an ONNX export nor safetensors
	// weights bertserve can import (for instance only pytorch_model.bin).
	ErrUnsupported = errors.New("no loadable weights")
)

// disabledMessage is the hub's X-Error-Message for a disabled repo.
const disabledMessage = "Access to this resource is disabled."

// httpError turns a non-2xx hub answer into an error wrapping one of the
// sentinels. The hub names the reason in X-Error-Code (RepoNotFound,
// RevisionNotFound, EntryNotFound, GatedRepo) and X-Error-Message; without
// a token it answers 401 RepoNotFound for private repos and missing ones
// alike, so that case mentions both. The error says what the hub said,
// not what was being done: callers add that, once.
func (p *puller) httpError(resp *http.Response) error {
	code := resp.Header.Get("X-Error-Code")
	msg := strings.TrimSpace(resp.Header.Get("X-Error-Message"))
	detail := resp.Status
	if msg != "" {
		detail += ": " + msg
	}
	switch {
	case strings.EqualFold(msg, disabledMessage):
		return fmt.Errorf("%w (%s): no token changes that; look on the hub for another copy of the model", ErrDisabled, detail)
	case code == "RepoNotFound" && (resp.StatusCode == 401 || resp.StatusCode == 403):
		// The hub's answer to an anonymous request for a private repo and
		// for a repo that does not exist is the same.
		return fmt.Errorf("%w (%s; %s; the hub answers the same when the repo does not exist, so check the id too)",
			ErrUnauthorized, detail, tokenHint(p.token))
	case code == "GatedRepo" || resp.StatusCode == 401 || resp.StatusCode == 403:
		return fmt.Errorf("%w (%s; %s)", ErrUnauthorized, detail, tokenHint(p.token))
	case resp.StatusCode == 404 || code == "RepoNotFound" || code == "RevisionNotFound" || code == "EntryNotFound":
		return fmt.Errorf("%w (%s): check the spelling of the repo id and --revision on the hub's web page", ErrNotFound, detail)
	}
	se := &statusError{who: p.who(resp), status: resp.StatusCode, detail: detail}
	se.wait, se.limit = retryHint(resp.Header, resp.StatusCode)
	return se
}

// tokenHint says which token was sent, or where none was found.
func tokenHint(t token) string {
	if t.value == "" {
		return "no token was found in $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN or the file `hf auth login` writes ($HF_TOKEN_PATH, else $HF_HOME/token, by default ~/.cache/huggingface/token)"
	}
	return "the token from " + t.source + " was sent: check that it has access to this repo (and that you accepted the model's conditions on its page)"
}

// who names the server that answered: "the hub", or the host of a CDN or
// of wherever a redirect led.
func (p *puller) who(resp *http.Response) string {
	if resp.Request == nil || resp.Request.URL.Host == p.endpointHost {
		return "the hub"
	}
	return resp.Request.URL.Hostname()
}

// statusError is any other HTTP failure; 408, 429 and most 5xx are
// retried, after the wait the answer asks for when it names one.
type statusError struct {
	who    string // "the hub" or a host
	status int
	detail string        // "503 Service Unavailable: message"
	wait   time.Duration // what Retry-After or RateLimit asks for; 0 when neither does
	limit  string        // the rate limit in words ("api: 500 requests per 5m0s"), when the answer names it
}

func (e *statusError) Error() string {
	s := e.who + " answered " + e.detail
	if e.limit != "" {
		s += " (" + e.limit + ")"
	}
	return s
}

// Unwrap makes a 429 an ErrRateLimited.
func (e *statusError) Unwrap() error {
	if e.status == http.StatusTooManyRequests {
		return ErrRateLimited
	}
	return nil
}

func (e *statusError) retryable() bool {
	switch e.status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return e.status >= 500
}

// linkRefusedError is a 401, 403, 404 or 410 from a host other than the
// hub while downloading: the CDN refusing a signed link, most often
// because it expired (they last about an hour). It never means the repo is
// gated: the hub decides that, and it has already handed out the link.
// The cure is a fresh link from the hub.
type linkRefusedError struct {
	who    string
	detail string
}

func (e *linkRefusedError) Error() string {
	return e.who + " answered " + e.detail + " to the download link (signed links expire after about an hour)"
}

// isLinkRefusal reports whether a download answer is the CDN refusing the
// link rather than a transfer failure.
func isLinkRefusal(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		return true
	}
	return false
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

// retryable reports whether a failed attempt is worth repeating: transport
// errors after a connection was made, stalls, 408, 429 and 5xx.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.retryable()
	}
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrChecksum) ||
		errors.Is(err, ErrDisabled) || errors.Is(err, ErrNotHub) || errors.Is(err, ErrRateLimited) {
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
