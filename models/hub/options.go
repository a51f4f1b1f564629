package hub

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/bertserve/bertserve/encoder"
)

// DefaultEndpoint is the public Hugging Face hub, used when neither
// Options.Endpoint nor $HF_ENDPOINT is set.
const DefaultEndpoint = "https://huggingface.co"

// DefaultRevision is the branch pulled when Options.Revision is empty.
const DefaultRevision = "main"

// Options configures Pull. The zero value pulls the main branch from the
// public hub (or $HF_ENDPOINT) into the bertserve cache, with the token
// the hub's own tools would use ($HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, the
// file `hf auth login` writes), anonymously when there is none.
type Options struct {
	// Revision is a branch, tag or commit sha; "" means "main". Pull
	// resolves it to a commit once and downloads every file at that commit,
	// so a push during the pull cannot mix two versions.
	Revision string
	// Dir is the final model directory; "" means
	// encoder.CacheDir()/models/<org>--<name>. An existing directory there
	// is replaced only once the new one is complete.
	Dir string
	// Endpoint is the hub's base URL; "" means $HF_ENDPOINT, else
	// https://huggingface.co. Mirrors that copy the hub's URL layout work.
	Endpoint string
	// Token is sent as "Authorization: Bearer <token>" to the endpoint's
	// host only: never to the CDN the hub redirects large files to, nor
	// along any redirect to another host. "" means the first of
	// $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, the file $HF_TOKEN_PATH or else
	// $HF_HOME/token (default ~/.cache/huggingface/token), as
	// huggingface_hub looks it up; surrounding white space and line breaks
	// are removed. Gated and private repositories need one, and a token
	// raises the hub's rate limits.
	Token string
	// Progress receives a progress bar (when it is a terminal) or one line
	// per file; nil means silent.
	Progress io.Writer
	// HTTPClient does the requests; nil means a client with connection
	// and header timeouts but no overall limit (weights take a while).
	HTTPClient *http.Client
	// MaxRetries bounds how many times one request is retried after a
	// dropped connection, a 408, 429 or 5xx answer, or (downloads) a CDN
	// link the CDN refuses; attempts that receive bytes do not count. 0
	// means 5. Waits follow Retry-After and the hub's RateLimit header when
	// the answer has them, else a backoff from 250ms to 8s; a wait over
	// ten minutes fails at once with ErrRateLimited.
	MaxRetries int
	// StallTimeout aborts (and retries) a download that receives no bytes
	// for this long; 0 means 60s.
	StallTimeout time.Duration
	// Import converts the downloaded Hugging Face folder from into the
	// model directory out for repositories without an ONNX export; nil
	// means models.ImportHF, naming the repo, commit and license in the
	// manifest. It is a seam for tests and for callers that want other
	// import options.
	Import func(from, out string) error
	// AllowMissingHubHeaders accepts file answers without X-Repo-Commit
	// or ETag, for mirrors that do not send them. Without it such an
	// answer fails with ErrNotHub, since it is what a captive portal or a
	// wrong endpoint sends; with it, files the mirror gives no checksum for
	// are checked by size only.
	AllowMissingHubHeaders bool

	// Seams for tests: sleep waits between retries (nil: a timer), getenv
	// reads the environment (nil: os.Getenv).
	sleep  func(ctx context.Context, d time.Duration) error
	getenv func(string) string
}

// repoIDPattern is what the hub accepts as a model id: an optional
// namespace and a name made of letters, digits, '-', '_' and '.'.
var repoIDPattern = regexp.MustCompile(`^(?:[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidateRepo reports whether repo looks like a hub model id such as
// "google-bert/bert-base-chinese" (or a legacy id without namespace such
// as "bert-base-uncased").
func ValidateRepo(repo string) error {
	if !repoIDPattern.MatchString(repo) || strings.Contains(repo, "..") || strings.Contains(repo, "--") {
		return fmt.Errorf("%q is not a Hugging Face model id: want org/name, e.g. google-bert/bert-base-chinese", repo)
	}
	return nil
}

// DefaultDir is where Pull puts repo when Options.Dir is empty:
// encoder.CacheDir()/models/<org>--<name>, the hub cache's own naming.
func DefaultDir(repo string) string {
	return filepath.Join(encoder.CacheDir(), "models", strings.ReplaceAll(repo, "/", "--"))
}

// resolved holds Options with every default filled in.
type resolved struct {
	Options
	endpoint string
	token    token
}

func (o Options) resolve(repo string) (resolved, error) {
	r := resolved{Options: o}
	if r.getenv == nil {
		r.getenv = os.Getenv
	}
	if r.sleep == nil {
		r.sleep = sleep
	}
	if r.Revision == "" {
		r.Revision = DefaultRevision
	}
	if r.Dir == "" {
		r.Dir = DefaultDir(repo)
	}
	r.endpoint = o.Endpoint
	if r.endpoint == "" {
		r.endpoint = r.getenv("HF_ENDPOINT")
	}
	if r.endpoint == "" {
		r.endpoint = DefaultEndpoint
	}
	r.endpoint = strings.TrimRight(r.endpoint, "/")
	if o.Token != "" {
		t, err := checkToken(token{cleanToken(o.Token), "Options.Token"})
		if err != nil {
			return r, err
		}
		r.token = t
	} else {
		t, err := lookupToken(r.getenv)
		if err != nil {
			return r, err
		}
		r.token = t
	}
	r.Token = r.token.value
	if r.HTTPClient == nil {
		r.HTTPClient = defaultClient()
	}
	if r.MaxRetries <= 0 {
		r.MaxRetries = 5
	}
	if r.StallTimeout <= 0 {
		r.StallTimeout = 60 * time.Second
	}
	if r.Progress == nil {
		r.Progress = io.Discard
	}
	return r, nil
}

func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 15 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t}
}
