package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRepo is one repository on the fake hub.
type fakeRepo struct {
	files    map[string][]byte
	lfs      map[string]bool // served through the CDN with a sha256 X-Linked-Etag
	commit   string
	gated    bool // needs "Bearer " + fakeToken
	disabled bool // answers 403 "Access to this resource is disabled."
	license  string
}

const fakeToken = "hf_test_token"

// The fake hub answers under these names (fakeHub.client maps them to its
// listeners). The CDN is a subdomain of the hub, as cdn-lfs.huggingface.co
// is of huggingface.co, so a client that forwards Authorization to
// subdomains (Go's default redirect policy) leaks the token there.
const (
	fakeHubHost    = "huggingface.test"
	fakeCDNHost    = "cdn-lfs.huggingface.test"
	fakePortalHost = "portal.test"
)

// fakeHub serves the Hugging Face hub's URL layout from memory and behaves
// like the live hub where it matters to a downloader (recorded traffic,
// see doc.go):
//
//   - the model API, with a relative 307 for a renamed repo;
//   - resolve URLs: a regular (git) file answers a relative 307 to
//     /api/resolve-cache/models/{repo}/{commit}/{path}?... with X-Linked-Etag
//     (its git blob sha1) and no X-Linked-Size, and the resolve-cache URL
//     answers 200 with ETag and Content-Length; an LFS file answers 302 to a
//     signed CDN link (Expires + Signature) with X-Linked-Etag (sha256),
//     X-Linked-Size, ETag (the LFS pointer's sha1) and the Xet headers
//     (X-Xet-Hash, Link rel="xet-auth" and rel="xet-reconstruction-info");
//   - every resolve answer, 404s included, carries X-Repo-Commit;
//   - rate limits in 5-minute fixed windows per bucket ("api",
//     "resolvers"), advertised on every answer with the IETF draft headers
//     the hub sends (RateLimit: "api";r=12;t=55 and RateLimit-Policy:
//     "fixed window";"api";q=500;w=300) and enforced with a 429;
//   - a CDN whose links expire (403 AccessDenied "Request has expired"
//     after linkTTL on the fake clock) and whose ETag is the Xet hash, not
//     the sha256.
//
// Faults are injected per file (connections cut after N bytes, corrupted
// bytes, Range ignored, queued error answers, links expiring when a
// connection is cut, a CDN that keeps refusing) or for the whole hub (a
// proxy that strips X-Linked-*, a mirror without X-Repo-Commit and ETag, a
// mirror that redirects GETs to the CDN, a captive portal).
type fakeHub struct {
	t     *testing.T
	hub   *httptest.Server
	cdn   *httptest.Server
	url   string // the endpoint, http://huggingface.test:PORT; h.hub.URL also works, with plain 127.0.0.1 links
	repos map[string]*fakeRepo

	mu      sync.Mutex
	clock   time.Time         // the fake now: signed links and rate-limit windows follow it
	linkTTL time.Duration     // how long a signed CDN link stays valid
	renamed map[string]string // old repo id -> new repo id

	drops        map[string][]int64 // repo path -> for each of its next GETs, the bytes sent before the connection is cut
	corrupt      map[string]bool
	noRange      map[string]bool       // answer Range requests with the whole file (200)
	fail         map[string][]fakeFail // repo path, or "api" for the model API -> the next answers
	expireOnDrop map[string]bool       // cutting this file's connection moves the clock past every link's expiry
	cdnRefuse    map[string]int        // the CDN answers 403 to this many more GETs of the file, valid link or not
	quota        map[string]int        // bucket -> requests per window (default: the anonymous limits)

	stripLinked     bool   // a proxy that removes X-Linked-Etag and X-Linked-Size
	plainMirror     bool   // a mirror that sends neither X-Repo-Commit nor ETag (nor X-Linked-*)
	directLFS       bool   // a mirror that answers HEAD of LFS files itself (200) but redirects their GET to the CDN
	portal          string // "html" or "redirect": a captive portal that takes over after portalAfter hub requests
	portalAfter     int
	hubRequests     int
	window          map[string]time.Time
	used            map[string]int
	limited         int                 // 429 answers sent
	ranges          map[string][]string // repo path -> Range headers of the GETs that were served
	cdnLog          []string            // "STATUS path Range" for every CDN GET
	cdnAuth         []string            // Authorization headers the CDN received
	requests        []string            // "METHOD path" of every hub request
	heads           map[string]int      // repo path -> HEAD requests on its resolve URL
	blobByXet       map[string][]byte
	blobName        map[string]string
	waits           []time.Duration // what the puller asked its sleeper for
	signingKey      string
	anonQuota       map[string]int
	refuseAfterDrop map[string]bool // once this file's connection is cut, the CDN refuses it (403) until cdnRefuse is reset
}

// fakeFail is one queued error answer.
type fakeFail struct {
	status int
	header map[string]string
	body   string
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	start := time.Date(2026, 9, 23, 12, 0, 0, 0, time.UTC)
	h := &fakeHub{
		t: t, repos: map[string]*fakeRepo{}, clock: start, linkTTL: time.Hour, refuseAfterDrop: map[string]bool{},
		renamed: map[string]string{},
		drops:   map[string][]int64{}, corrupt: map[string]bool{}, noRange: map[string]bool{},
		fail: map[string][]fakeFail{}, expireOnDrop: map[string]bool{}, cdnRefuse: map[string]int{},
		quota: map[string]int{}, window: map[string]time.Time{}, used: map[string]int{},
		ranges: map[string][]string{}, heads: map[string]int{},
		blobByXet: map[string][]byte{}, blobName: map[string]string{},
		signingKey: "fake-cdn-key",
		anonQuota:  map[string]int{"api": 500, "resolvers": 3000},
	}
	h.hub = httptest.NewServer(http.HandlerFunc(h.serveHub))
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	t.Cleanup(h.hub.Close)
	t.Cleanup(h.cdn.Close)
	h.url = "http://" + fakeHubHost + ":" + port(h.hub)
	return h
}

func port(s *httptest.Server) string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

// client dials the fake hub's names (huggingface.test, its CDN subdomain
// and the portal) on the test servers.
func (h *fakeHub) client() *http.Client {
	hubAddr, cdnAddr := h.hub.Listener.Addr().String(), h.cdn.Listener.Addr().String()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			switch host {
			case fakeHubHost, fakePortalHost:
				addr = hubAddr
			case fakeCDNHost:
				addr = cdnAddr
			}
			return d.DialContext(ctx, network, addr)
		},
		ResponseHeaderTimeout: 10 * time.Second,
	}
	h.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// sleep stands in for the puller's waits: it moves the fake clock instead
// of sleeping, and records how long the puller wanted to wait.
func (h *fakeHub) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock = h.clock.Add(d)
	h.waits = append(h.waits, d)
	return nil
}

func (h *fakeHub) waited() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.waits...)
}

// exhaust spends bucket's quota in a window that resets in resetIn.
func (h *fakeHub) exhaust(bucket string, resetIn time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock = h.clock.Truncate(fakeWindow).Add(fakeWindow - resetIn)
	q, ok := h.quota[bucket]
	if !ok {
		q = h.anonQuota[bucket]
	}
	h.window[bucket], h.used[bucket] = h.clock.Truncate(fakeWindow), q
}

// add publishes a repository; files over 1 kB are stored in "LFS".
func (h *fakeHub) add(id string, files map[string][]byte) *fakeRepo {
	sum := sha1.New()
	for name, b := range files {
		fmt.Fprintf(sum, "%s:%x\n", name, sha256.Sum256(b))
	}
	r := &fakeRepo{files: files, lfs: map[string]bool{}, commit: hex.EncodeToString(sum.Sum(nil))}
	for name, b := range files {
		if len(b) > 1000 {
			r.lfs[name] = true
			x := xetHash(b)
			h.blobByXet[x] = b
			h.blobName[x] = name
		}
	}
	h.repos[id] = r
	return r
}

func gitBlobSHA1(b []byte) string {
	s := sha1.New()
	fmt.Fprintf(s, "blob %d\x00", len(b))
	s.Write(b)
	return hex.EncodeToString(s.Sum(nil))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// xetHash stands in for the Xet chunk-tree hash: 64 hex digits like a
// sha256, but not the content's sha256.
func xetHash(b []byte) string {
	return sha256Hex(append([]byte("xet:"), b...))
}

// lfsPointerSHA1 is the git blob sha1 of a file's LFS pointer: what the hub
// sends as the plain ETag of an LFS file, and never the content's hash.
func lfsPointerSHA1(b []byte) string {
	return gitBlobSHA1([]byte(fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", sha256Hex(b), len(b))))
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	http.Error(w, msg, status)
}

// lookup finds the repo and checks access and revision as the hub does.
func (h *fakeHub) lookup(w http.ResponseWriter, r *http.Request, id, rev string) *fakeRepo {
	repo := h.repos[id]
	if repo == nil {
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		return nil
	}
	if repo.disabled {
		hubError(w, http.StatusForbidden, "", "Access to this resource is disabled.")
		return nil
	}
	if repo.gated && r.Header.Get("Authorization") != "Bearer "+fakeToken {
		hubError(w, http.StatusUnauthorized, "GatedRepo", "Access to model "+id+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
		return nil
	}
	if rev != "main" && rev != repo.commit {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return nil
	}
	return repo
}

func (h *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	h.mu.Lock()
	h.requests = append(h.requests, r.Method+" "+p)
	h.hubRequests++
	portal := h.portal != "" && h.hubRequests > h.portalAfter
	w.Header().Set("Date", h.clock.Format(http.TimeFormat))
	h.mu.Unlock()
	if strings.HasPrefix(p, "/portal/") || portal {
		h.servePortal(w, r)
		return
	}
	w = h.wrap(w)
	switch {
	case strings.HasPrefix(p, "/api/models/"):
		if h.rateLimit(w, "api") {
			h.serveAPI(w, r, strings.TrimPrefix(p, "/api/models/"))
		}
	case strings.HasPrefix(p, "/api/resolve-cache/models/"):
		if h.rateLimit(w, "resolvers") {
			h.serveResolveCache(w, r, strings.TrimPrefix(p, "/api/resolve-cache/models/"))
		}
	default:
		// /{org}/{name}/resolve/{rev}/{path...}
		parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5)
		if len(parts) < 5 || parts[2] != "resolve" {
			http.NotFound(w, r)
			return
		}
		if h.rateLimit(w, "resolvers") {
			h.serveResolve(w, r, parts)
		}
	}
}

func (h *fakeHub) serveAPI(w http.ResponseWriter, r *http.Request, rest string) {
	id, rev, ok := strings.Cut(rest, "/revision/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if to, ok := h.renamed[id]; ok {
		w.Header().Set("Location", "/api/models/"+to+"/revision/"+rev)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if h.injectFault(w, r, "api") {
		return
	}
	rev, _ = url.PathUnescape(rev)
	repo := h.lookup(w, r, id, rev)
	if repo == nil {
		return
	}
	type sibling struct {
		RFilename string `json:"rfilename"`
	}
	info := map[string]any{"id": id, "modelId": id, "sha": repo.commit, "private": false, "gated": repo.gated, "disabled": false, "tags": []string{"transformers", "bert"}}
	sibs := []sibling{}
	for name := range repo.files {
		sibs = append(sibs, sibling{name})
	}
	info["siblings"] = sibs
	if repo.license != "" {
		info["cardData"] = map[string]any{"license": repo.license}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(info)
}

func (h *fakeHub) serveResolve(w http.ResponseWriter, r *http.Request, parts []string) {
	id := parts[0] + "/" + parts[1]
	if to, ok := h.renamed[id]; ok {
		// A renamed repo: a relative 307 to the same file under the new name.
		w.Header().Set("Location", "/"+to+"/resolve/"+parts[3]+"/"+parts[4])
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	rev, _ := url.PathUnescape(parts[3])
	name, _ := url.PathUnescape(parts[4])
	if r.Method == http.MethodHead {
		h.mu.Lock()
		h.heads[name]++
		h.mu.Unlock()
	}
	if h.injectFault(w, r, name) {
		return
	}
	repo := h.lookup(w, r, id, rev)
	if repo == nil {
		return
	}
	w.Header().Set("X-Repo-Commit", repo.commit)
	b, ok := repo.files[name]
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", name+" does not exist on "+rev)
		return
	}
	if repo.lfs[name] {
		if h.directLFS && r.Method == http.MethodHead {
			w.Header().Set("ETag", `"`+sha256Hex(b)+`"`)
			h.serveBytes(w, r, name, b)
			return
		}
		h.redirectToCDN(w, r, id, repo, name, b)
		return
	}
	// A regular file: a relative 307 to the resolve cache, carrying the git
	// blob sha1 as X-Linked-Etag but no X-Linked-Size.
	sum := gitBlobSHA1(b)
	loc := "/api/resolve-cache/models/" + id + "/" + repo.commit + "/" + parts[4] +
		"?" + url.QueryEscape("/"+id+"/resolve/"+parts[3]+"/"+name) + "=&etag=" + url.QueryEscape(`"`+sum+`"`)
	w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusTemporaryRedirect)
	fmt.Fprintf(w, "Temporary Redirect. Redirecting to %s", loc)
}

// serveResolveCache answers /api/resolve-cache/models/{org}/{name}/{commit}/{path}.
func (h *fakeHub) serveResolveCache(w http.ResponseWriter, r *http.Request, rest string) {
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 4 {
		http.NotFound(w, r)
		return
	}
	id := parts[0] + "/" + parts[1]
	name, _ := url.PathUnescape(parts[3])
	repo := h.lookup(w, r, id, parts[2])
	if repo == nil {
		return
	}
	b, ok := repo.files[name]
	if !ok || repo.lfs[name] {
		hubError(w, http.StatusNotFound, "EntryNotFound", name+" is not in the resolve cache")
		return
	}
	if r.Method == http.MethodGet {
		h.mu.Lock()
		h.ranges[name] = append(h.ranges[name], r.Header.Get("Range"))
		h.mu.Unlock()
	}
	w.Header().Set("X-Repo-Commit", repo.commit)
	w.Header().Set("ETag", `"`+gitBlobSHA1(b)+`"`)
	h.serveBytes(w, r, name, b)
}

// serveBytes answers with b (honouring Range), or injects the file's fault.
func (h *fakeHub) serveBytes(w http.ResponseWriter, r *http.Request, name string, b []byte) {
	h.mu.Lock()
	var n int64
	drop := len(h.drops[name]) > 0 && r.Method == http.MethodGet
	if drop {
		n, h.drops[name] = h.drops[name][0], h.drops[name][1:]
		if h.expireOnDrop[name] {
			h.clock = h.clock.Add(2 * h.linkTTL) // the user's laptop slept through the link's lifetime
		}
		if h.refuseAfterDrop[name] {
			h.cdnRefuse[name] = 1 << 30
		}
	}
	corrupt := h.corrupt[name]
	if h.noRange[name] {
		r.Header.Del("Range")
	}
	h.mu.Unlock()
	if corrupt {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0xff
	}
	if drop {
		// Announce the rest of the file, send n bytes, cut the connection.
		var start int
		status := "200 OK"
		extra := ""
		if rg := r.Header.Get("Range"); rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &start)
			status = "206 Partial Content"
			extra = fmt.Sprintf("Content-Range: bytes %d-%d/%d\r\n", start, len(b)-1, len(b))
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			h.t.Errorf("hijack: %v", err)
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 %s\r\nContent-Length: %d\r\n%sContent-Type: application/octet-stream\r\n\r\n", status, len(b)-start, extra)
		buf.Write(b[start:min(start+int(n), len(b))])
		buf.Flush()
		conn.Close()
		return
	}
	w.Header().Set("Accept-Ranges", "bytes")
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(b)))
}

func (h *fakeHub) rangesOf(name string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ranges[name]...)
}

func (h *fakeHub) headsOf(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.heads[name]
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
