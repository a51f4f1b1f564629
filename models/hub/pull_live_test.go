package hub

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tests of the live hub's redirects and failure paths (issue 14), each
// against a fake hub that behaves as the live one does in that case.

// stagingDir returns the one staging folder in parent, or "".
func stagingDir(t *testing.T, parent string) string {
	t.Helper()
	for _, n := range entries(t, parent) {
		if strings.HasPrefix(n, ".") && strings.Contains(n, ".download-") {
			return filepath.Join(parent, n)
		}
	}
	return ""
}

func TestPullFetchesAFreshLinkWhenTheOldOneExpired(t *testing.T) {
	t.Parallel()
	// The connection drops after 700 bytes and, before the retry, the
	// signed CDN link expires (a laptop that slept for two hours): the CDN
	// answers 403. Pull must ask the hub for a fresh link and resume.
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files)
	h.drops["onnx/model.onnx"] = []int64{700}
	h.expireOnDrop["onnx/model.onnx"] = true
	dir := filepath.Join(t.TempDir(), "m")
	var log bytes.Buffer
	opts := testOptions(h, dir)
	opts.Progress = &log
	if _, err := Pull(context.Background(), "acme/tiny-onnx", opts); err != nil {
		t.Fatal(err)
	}
	want := []string{"200 onnx/model.onnx ", "403 onnx/model.onnx bytes=700-", "200 onnx/model.onnx bytes=700-"}
	if got := h.cdnLogOf("onnx/model.onnx"); !slices.Equal(got, want) {
		t.Errorf("CDN saw %q, want the expired link refused and a fresh one resuming at byte 700: %q", got, want)
	}
	if n := h.headsOf("onnx/model.onnx"); n != 2 {
		t.Errorf("%d HEADs of onnx/model.onnx, want 2 (the second for a fresh link)", n)
	}
	if !bytes.Equal(must(os.ReadFile(filepath.Join(dir, "model.onnx"))), files["onnx/model.onnx"]) {
		t.Error("model.onnx differs after resuming on a fresh link")
	}
	if s := log.String(); !strings.Contains(s, "fresh download link") || strings.Contains(s, "HF_TOKEN") {
		t.Errorf("progress should say a fresh link was fetched, and not talk about tokens:\n%s", s)
	}
}

func TestPullKeepsThePartialDownloadWhenTheCDNKeepsRefusing(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files)
	h.drops["onnx/model.onnx"] = []int64{700}
	h.refuseAfterDrop["onnx/model.onnx"] = true
	parent := t.TempDir()
	dir := filepath.Join(parent, "m")
	opts := testOptions(h, dir)
	opts.MaxRetries = 2
	_, err := Pull(context.Background(), "acme/tiny-onnx", opts)
	if err == nil {
		t.Fatal("Pull succeeded although the CDN refused every link")
	}
	if errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "HF_TOKEN") || strings.Contains(err.Error(), "gated") {
		t.Errorf("a CDN refusal is reported as a gated repo: %v", err)
	}
	for _, s := range []string{"403 Forbidden", fakeCDNHost, "run the same command again"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	stage := stagingDir(t, parent)
	if stage == "" {
		t.Fatalf("the staging folder with the partial download is gone: parent holds %v", entries(t, parent))
	}
	if st, err := os.Stat(filepath.Join(stage, "onnx", "model.onnx"+incompleteSuffix)); err != nil || st.Size() != 700 {
		t.Fatalf("partial model.onnx: %v, %v; want 700 bytes kept", st, err)
	}
	if n := h.headsOf("onnx/model.onnx"); n != 1+opts.MaxRetries {
		t.Errorf("%d HEADs of onnx/model.onnx, want %d: one fresh link per retry", n, 1+opts.MaxRetries)
	}
	// Once the CDN serves again, the next run continues from byte 700.
	h.mu.Lock()
	h.cdnRefuse["onnx/model.onnx"] = 0
	h.mu.Unlock()
	if _, err := Pull(context.Background(), "acme/tiny-onnx", opts); err != nil {
		t.Fatal(err)
	}
	if r := h.rangesOf("onnx/model.onnx"); !slices.Equal(r, []string{"", "bytes=700-"}) {
		t.Errorf("served Range headers %q, want the second run to resume from byte 700", r)
	}
	if !bytes.Equal(must(os.ReadFile(filepath.Join(dir, "model.onnx"))), files["onnx/model.onnx"]) {
		t.Error("model.onnx differs")
	}
}

func TestPullWaitsOutRateLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(h *fakeHub)
		// every wait the puller asked for lies in [min, max]
		min, max time.Duration
	}{
		{"api window spent", func(h *fakeHub) { h.exhaust("api", 55*time.Second) }, 55 * time.Second, 57 * time.Second},
		{"resolvers: 3 requests per window", func(h *fakeHub) { h.quota["resolvers"] = 3 }, time.Second, fakeWindow + 2*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t)
			files := onnxRepoFiles(t)
			h.add("acme/tiny-onnx", files)
			tc.setup(h)
			dir := filepath.Join(t.TempDir(), "m")
			var log bytes.Buffer
			opts := testOptions(h, dir)
			opts.Progress = &log
			if _, err := Pull(context.Background(), "acme/tiny-onnx", opts); err != nil {
				t.Fatal(err)
			}
			waits := h.waited()
			if h.limited == 0 || len(waits) != h.limited {
				t.Errorf("the hub answered 429 %d times and the puller waited %d times (%v), want one wait per 429", h.limited, len(waits), waits)
			}
			for _, d := range waits {
				if d < tc.min || d > tc.max {
					t.Errorf("waited %v, want the time the RateLimit header names (%v..%v)", d, tc.min, tc.max)
				}
			}
			if !strings.Contains(log.String(), "rate limit") {
				t.Errorf("progress does not mention the rate limit:\n%s", log.String())
			}
			if !bytes.Equal(must(os.ReadFile(filepath.Join(dir, "model.onnx"))), files["onnx/model.onnx"]) {
				t.Error("model.onnx differs")
			}
		})
	}
}

func TestPullRetriesHubAnswersWithRetryAfter(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	h.add("acme/tiny-onnx", onnxRepoFiles(t))
	h.mu.Lock()
	later := h.clock.Add(30 * time.Second).Format(http.TimeFormat)
	h.mu.Unlock()
	h.fail["api"] = []fakeFail{{status: 502, header: map[string]string{"Retry-After": later}}, {status: 408}}
	h.fail["config.json"] = []fakeFail{{status: 503, header: map[string]string{"Retry-After": "7"}}}
	h.fail["vocab.txt"] = []fakeFail{{status: 500}}
	if _, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, filepath.Join(t.TempDir(), "m"))); err != nil {
		t.Fatal(err)
	}
	// 30s for the HTTP date, a base backoff for the bare 408, 7s for the
	// seconds form, a base backoff for the bare 500.
	if w := h.waited(); !slices.Equal(w, []time.Duration{30 * time.Second, backoff(2), 7 * time.Second, backoff(1)}) {
		t.Errorf("waits %v, want Retry-After honoured and bare errors backed off", w)
	}
}

func TestPullGivesUpOnALongRateLimit(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	h.add("acme/tiny-onnx", onnxRepoFiles(t))
	h.fail["api"] = []fakeFail{{status: 429, header: map[string]string{"Retry-After": "7200", "RateLimit": `"api";r=0;t=7200`}}}
	opts := noToken(testOptions(h, filepath.Join(t.TempDir(), "m")))
	_, err := Pull(context.Background(), "acme/tiny-onnx", opts)
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	for _, s := range []string{"2h0m0s", "HF_TOKEN", "run the same command again"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if w := h.waited(); len(w) != 0 {
		t.Errorf("waited %v for a two-hour rate limit, want an error at once", w)
	}
}

func TestPullBehindAProxyThatStripsLinkedHeaders(t *testing.T) {
	t.Parallel()
	// Without X-Linked-Etag and X-Linked-Size, the redirect's ETag is the
	// LFS pointer's sha1 and its Content-Length the redirect body's: using
	// either fails every download. Only the size (learned from the CDN) is
	// checked, and the progress says so.
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files)
	h.stripLinked = true
	dir := filepath.Join(t.TempDir(), "m")
	var log bytes.Buffer
	opts := testOptions(h, dir)
	opts.Progress = &log
	if _, err := Pull(context.Background(), "acme/tiny-onnx", opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(must(os.ReadFile(filepath.Join(dir, "model.onnx"))), files["onnx/model.onnx"]) {
		t.Error("model.onnx differs")
	}
	lines := strings.Split(log.String(), "\n")
	lineOf := func(name string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, name+" ") {
				return l
			}
		}
		return ""
	}
	if l := lineOf("onnx/model.onnx"); !strings.Contains(l, "size checked only") || !strings.Contains(l, "X-Linked-Etag") {
		t.Errorf("progress for model.onnx = %q, want it to say only the size was checked and why", l)
	}
	// Files in git are answered by the hub itself (200 with their ETag),
	// so they are still checked in full.
	if l := lineOf("vocab.txt"); !strings.Contains(l, "checksum ok") {
		t.Errorf("progress for vocab.txt = %q, want checksum ok", l)
	}
}

func TestPullRefusesWhatIsNotAHub(t *testing.T) {
	t.Parallel()
	for _, portal := range []string{"html", "redirect"} {
		t.Run("captive portal "+portal, func(t *testing.T) {
			h := newFakeHub(t)
			h.add("acme/tiny-onnx", onnxRepoFiles(t))
			h.portal, h.portalAfter = portal, 1 // the listing gets through, then the portal answers
			parent := t.TempDir()
			_, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, filepath.Join(parent, "m")))
			if !errors.Is(err, ErrNotHub) {
				t.Fatalf("err = %v, want ErrNotHub", err)
			}
			for _, s := range []string{"this does not look like a Hugging Face hub", "X-Repo-Commit", "captive portal", "HF_ENDPOINT", "--allow-missing-hub-headers"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if fileExists(filepath.Join(parent, "m")) {
				t.Error("the portal's page became a model directory")
			}
			if stage := stagingDir(t, parent); stage != "" && len(listTree(t, stage)) > 0 {
				t.Errorf("the portal's answers were saved: %v", listTree(t, stage))
			}
		})
	}
	t.Run("captive portal on the download", func(t *testing.T) {
		// The listing and config.json's HEADs get through (listing, resolve,
		// resolve cache); the portal takes the GET over with a redirect to
		// its login page.
		h := newFakeHub(t)
		h.add("acme/tiny-onnx", onnxRepoFiles(t))
		h.portal, h.portalAfter = "redirect", 3
		parent := t.TempDir()
		_, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, filepath.Join(parent, "m")))
		if !errors.Is(err, ErrNotHub) || !strings.Contains(err.Error(), "web page") || !strings.Contains(err.Error(), "captive portal") {
			t.Fatalf("err = %v, want ErrNotHub naming the web page the download got", err)
		}
		if stage := stagingDir(t, parent); stage != "" {
			for _, f := range listTree(t, stage) {
				if b := must(os.ReadFile(filepath.Join(stage, f))); bytes.Contains(b, []byte("Wi-Fi")) {
					t.Errorf("the portal's page was saved as %s", f)
				}
			}
		}
	})
	t.Run("plain mirror", func(t *testing.T) {
		// A mirror that sends neither X-Repo-Commit nor ETag is refused,
		// unless the caller opts out; then files are checked by size.
		h := newFakeHub(t)
		files := onnxRepoFiles(t)
		h.add("acme/tiny-onnx", files)
		h.plainMirror = true
		dir := filepath.Join(t.TempDir(), "m")
		if _, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, dir)); !errors.Is(err, ErrNotHub) {
			t.Fatalf("err = %v, want ErrNotHub", err)
		}
		var log bytes.Buffer
		opts := testOptions(h, dir)
		opts.AllowMissingHubHeaders = true
		opts.Progress = &log
		if _, err := Pull(context.Background(), "acme/tiny-onnx", opts); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(must(os.ReadFile(filepath.Join(dir, "model.onnx"))), files["onnx/model.onnx"]) {
			t.Error("model.onnx differs")
		}
		if s := log.String(); strings.Contains(s, "checksum ok") || !strings.Contains(s, "size checked only") {
			t.Errorf("progress should say every file was checked by size only:\n%s", s)
		}
	})
}

func TestPullNeverSendsTheTokenToAnotherHost(t *testing.T) {
	t.Parallel()
	// A mirror answers HEAD itself but redirects the GET to a CDN on a
	// subdomain (cdn-lfs.huggingface.test): Go's default redirect policy
	// would forward Authorization there.
	h := newFakeHub(t)
	h.add("acme/gated", onnxRepoFiles(t)).gated = true
	h.directLFS = true
	opts := testOptions(h, filepath.Join(t.TempDir(), "m"))
	opts.Token = fakeToken
	if _, err := Pull(context.Background(), "acme/gated", opts); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.cdnAuth) == 0 {
		t.Fatal("the CDN served nothing")
	}
	for _, a := range h.cdnAuth {
		if a != "" {
			t.Errorf("the CDN received Authorization %q on a redirect from the hub", a)
		}
	}
}

func TestPullFollowsARenamedRepo(t *testing.T) {
	t.Parallel()
	// The hub answers the old name with relative 307s (API and resolve
	// URLs) to the new one; the token goes along, the host being the same.
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files).gated = true
	h.renamed["acme/old-name"] = "acme/tiny-onnx"
	var log bytes.Buffer
	opts := testOptions(h, filepath.Join(t.TempDir(), "m"))
	opts.Token = fakeToken
	opts.Progress = &log
	dir, err := Pull(context.Background(), "acme/old-name", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(must(os.ReadFile(filepath.Join(dir, "model.onnx"))), files["onnx/model.onnx"]) {
		t.Error("model.onnx differs")
	}
	if !strings.Contains(log.String(), "acme/old-name is now acme/tiny-onnx") {
		t.Errorf("progress does not mention the rename:\n%s", log.String())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, want := range []string{"GET /api/models/acme/old-name/revision/main", "HEAD /acme/old-name/resolve/" + h.repos["acme/tiny-onnx"].commit + "/vocab.txt"} {
		if !slices.Contains(h.requests, want) {
			t.Errorf("the hub never saw %q", want)
		}
	}
}

func TestPullXetBackedFilesOverPlainHTTP(t *testing.T) {
	t.Parallel()
	// The hub's redirect carries Xet headers (X-Xet-Hash, Link to the Xet
	// token and reconstruction endpoints); Pull downloads through the
	// plain-HTTP bridge, checks the sha256 from X-Linked-Etag (the CDN's
	// own ETag is the Xet hash) and never calls the Xet endpoints.
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files)
	var log bytes.Buffer
	opts := testOptions(h, filepath.Join(t.TempDir(), "m"))
	opts.Progress = &log
	if _, err := Pull(context.Background(), "acme/tiny-onnx", opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "onnx/model.onnx") || !strings.Contains(log.String(), "checksum ok") {
		t.Errorf("progress:\n%s", log.String())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.requests {
		if strings.Contains(r, "xet-read-token") || strings.Contains(r, "/cas/") {
			t.Errorf("Pull called a Xet endpoint: %s", r)
		}
	}
}

func TestPullDisabledRepo(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	h.add("acme/taken-down", onnxRepoFiles(t)).disabled = true
	parent := t.TempDir()
	opts := testOptions(h, filepath.Join(parent, "m"))
	opts.Token = fakeToken
	_, err := Pull(context.Background(), "acme/taken-down", opts)
	if !errors.Is(err, ErrDisabled) || errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrDisabled and not ErrUnauthorized", err)
	}
	if s := err.Error(); !strings.Contains(s, "Access to this resource is disabled.") || strings.Contains(s, "set HF_TOKEN") || strings.Contains(s, "gated") {
		t.Errorf("error %q should quote the hub and not ask for a token", s)
	}
	if names := entries(t, parent); len(names) != 0 {
		t.Errorf("a refused pull left %v", names)
	}
}

// saysOnce reports the phrases an error message repeats.
func saysOnce(msg string) []string {
	var repeated []string
	for _, p := range []string{"pulling ", "listing ", "looking up ", "downloading ", "run the same command again", "repo is gated", "the hub answered"} {
		if strings.Count(msg, p) > 1 {
			repeated = append(repeated, p)
		}
	}
	segs := strings.Split(msg, ": ")
	for i := 1; i < len(segs); i++ {
		if segs[i] == segs[i-1] {
			repeated = append(repeated, segs[i])
		}
	}
	return repeated
}

func TestPullErrorsSayWhatHappenedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(h *fakeHub, o *Options)
		says  string
	}{
		{"CDN 500s", func(h *fakeHub, o *Options) {
			h.fail["cdn:onnx/model.onnx"] = []fakeFail{{status: 500}, {status: 500}, {status: 500}}
		}, "downloading onnx/model.onnx: " + fakeCDNHost + " answered 500 Internal Server Error"},
		{"hub 503s on a file", func(h *fakeHub, o *Options) {
			h.fail["vocab.txt"] = []fakeFail{{status: 503}, {status: 503}, {status: 503}}
		}, "looking up vocab.txt: the hub answered 503 Service Unavailable"},
		{"gated", func(h *fakeHub, o *Options) { h.repos["acme/tiny-onnx"].gated = true; o.Token = "" }, "repo is gated or private"},
		{"corrupt", func(h *fakeHub, o *Options) { h.corrupt["config.json"] = true }, "downloading config.json: checksum mismatch"},
		{"dropping", func(h *fakeHub, o *Options) { h.drops["onnx/model.onnx"] = []int64{10, 0, 0, 0} }, "downloading onnx/model.onnx: connection closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t)
			h.add("acme/tiny-onnx", onnxRepoFiles(t))
			opts := testOptions(h, filepath.Join(t.TempDir(), "m"))
			opts.MaxRetries = 2
			tc.setup(h, &opts)
			_, err := Pull(context.Background(), "acme/tiny-onnx", opts)
			if err == nil {
				t.Fatal("Pull succeeded")
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			if r := saysOnce(err.Error()); len(r) > 0 {
				t.Errorf("error %q repeats %q", err, r)
			}
		})
	}
}

func TestPullAgainstALiveLikeHub(t *testing.T) {
	t.Parallel()
	// Everything at once, as a user on a flaky network meets it: a renamed
	// repo, a tight resolver rate limit, a proxy that strips X-Linked-*,
	// and a connection that drops while the laptop sleeps through the
	// signed link's lifetime.
	h := newFakeHub(t)
	_, w := tinyBERT(t, 3)
	files := bertRepoFiles(t, w)
	h.add("acme/tiny-bert", files)
	h.renamed["acme/bert-old"] = "acme/tiny-bert"
	h.quota["resolvers"] = 4
	h.stripLinked = true
	h.drops["model.safetensors"] = []int64{1500}
	h.expireOnDrop["model.safetensors"] = true
	var got []byte
	var log bytes.Buffer
	opts := testOptions(h, filepath.Join(t.TempDir(), "m"))
	opts.Import = func(from, out string) error {
		got, _ = os.ReadFile(filepath.Join(from, "model.safetensors"))
		return (&importSpy{}).run(from, out)
	}
	opts.Progress = &log
	if _, err := Pull(context.Background(), "acme/bert-old", opts); err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, log.String())
	}
	if !bytes.Equal(got, files["model.safetensors"]) {
		t.Error("model.safetensors differs")
	}
	if h.limited == 0 {
		t.Error("the rate limit never struck: the test does not test it")
	}
}
