package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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
	files   map[string][]byte
	lfs     map[string]bool // served through the CDN with a sha256 ETag
	commit  string
	gated   bool // needs "Bearer " + fakeToken
	license string
}

const fakeToken = "hf_test_token"

// fakeHub serves the Hugging Face hub's URL layout from memory: the model
// API, resolve URLs (git files answered directly with their git blob sha1
// as ETag, LFS files redirected to a separate CDN server with
// X-Linked-Etag/X-Linked-Size), and the CDN with Range support. Faults can
// be injected per file: connections cut after N bytes on the next GETs,
// or corrupted bytes.
type fakeHub struct {
	t     *testing.T
	hub   *httptest.Server
	cdn   *httptest.Server
	repos map[string]*fakeRepo

	mu         sync.Mutex
	drops      map[string][]int64 // repo path -> for each of its next GETs, the bytes sent before the connection is cut
	corrupt    map[string]bool
	noRange    map[string]bool     // answer Range requests with the whole file (200)
	ranges     map[string][]string // repo path -> Range headers of CDN/resolve GETs
	cdnAuth    []string            // Authorization headers the CDN received
	blobByHash map[string][]byte
	blobName   map[string]string
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	h := &fakeHub{
		t: t, repos: map[string]*fakeRepo{},
		drops: map[string][]int64{}, corrupt: map[string]bool{}, noRange: map[string]bool{},
		ranges: map[string][]string{}, blobByHash: map[string][]byte{}, blobName: map[string]string{},
	}
	h.hub = httptest.NewServer(http.HandlerFunc(h.serveHub))
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	t.Cleanup(h.hub.Close)
	t.Cleanup(h.cdn.Close)
	return h
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
			s := sha256.Sum256(b)
			h.blobByHash[hex.EncodeToString(s[:])] = b
			h.blobName[hex.EncodeToString(s[:])] = name
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

func hubError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Error-Code", code)
	w.Header().Set("X-Error-Message", msg)
	http.Error(w, msg, status)
}

// lookup finds the repo and checks revision and access as the hub does.
func (h *fakeHub) lookup(w http.ResponseWriter, r *http.Request, id, rev string) *fakeRepo {
	repo := h.repos[id]
	if repo == nil {
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
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
	if rest, ok := strings.CutPrefix(p, "/api/models/"); ok {
		id, rev, ok := strings.Cut(rest, "/revision/")
		if !ok {
			http.NotFound(w, r)
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
		info := map[string]any{"id": id, "modelId": id, "sha": repo.commit, "private": false, "tags": []string{"transformers", "bert"}}
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
		return
	}
	// /{org}/{name}/resolve/{rev}/{path...}
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5)
	if len(parts) < 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	id := parts[0] + "/" + parts[1]
	rev, _ := url.PathUnescape(parts[3])
	name, _ := url.PathUnescape(parts[4])
	repo := h.lookup(w, r, id, rev)
	if repo == nil {
		return
	}
	b, ok := repo.files[name]
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", name+" does not exist on "+rev)
		return
	}
	w.Header().Set("X-Repo-Commit", repo.commit)
	if repo.lfs[name] {
		s := sha256.Sum256(b)
		sum := hex.EncodeToString(s[:])
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(b)))
		w.Header().Set("ETag", `"`+gitBlobSHA1([]byte("version https://git-lfs.github.com/spec/v1\noid sha256:"+sum))+`"`)
		w.Header().Set("Location", h.cdn.URL+"/repos/"+sum+"?name="+url.QueryEscape(name))
		w.WriteHeader(http.StatusFound)
		return
	}
	if r.Method == http.MethodGet {
		h.mu.Lock()
		h.ranges[name] = append(h.ranges[name], r.Header.Get("Range"))
		h.mu.Unlock()
	}
	w.Header().Set("ETag", `"`+gitBlobSHA1(b)+`"`)
	h.serveBytes(w, r, name, b)
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	sum := strings.TrimPrefix(r.URL.Path, "/repos/")
	b, ok := h.blobByHash[sum]
	if !ok {
		http.NotFound(w, r)
		return
	}
	name := h.blobName[sum]
	h.mu.Lock()
	h.cdnAuth = append(h.cdnAuth, r.Header.Get("Authorization"))
	h.ranges[name] = append(h.ranges[name], r.Header.Get("Range"))
	h.mu.Unlock()
	h.serveBytes(w, r, name, b)
}

// serveBytes answers with b (honouring Range), or injects the file's fault.
func (h *fakeHub) serveBytes(w http.ResponseWriter, r *http.Request, name string, b []byte) {
	h.mu.Lock()
	var n int64
	drop := len(h.drops[name]) > 0 && r.Method == http.MethodGet
	if drop {
		n, h.drops[name] = h.drops[name][0], h.drops[name][1:]
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
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(b)))
}

func (h *fakeHub) rangesOf(name string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ranges[name]...)
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
