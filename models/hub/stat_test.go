package hub

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestStatReadsTheHubsAnswers checks what stat takes from each shape of
// answer the hub, a proxy or a mirror gives to a HEAD on a resolve URL.
func TestStatReadsTheHubsAnswers(t *testing.T) {
	t.Parallel()
	const (
		commit  = "607a30d783dfa663caf39e06633721c8d4cfcd7e"
		sum256  = "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"
		gitSHA1 = "10c66461e4c109db5a2196bff4bb59be30396ed8"
		pointer = "44b36d6e32d13c8fb28b0feab0ac8bfefa7efeda"
		cdn     = "https://us.aws.cdn.hf.co/xet-bridge-us/abc/def?Expires=1&Signature=x"
	)
	type answer struct {
		status int
		header map[string]string
	}
	for _, tc := range []struct {
		name    string
		answers map[string]answer // by request path
		allow   bool              // AllowMissingHubHeaders
		want    remoteFile        // Path, Rev always "f", "r"; Location "" means the last path asked
		wantErr error
		says    string // in Unverified, or in the error
	}{
		{"LFS redirect", map[string]answer{"/a/b/resolve/r/f": {302, map[string]string{
			"Location": cdn, "X-Repo-Commit": commit, "X-Linked-Etag": `"` + sum256 + `"`, "X-Linked-Size": "548105171", "ETag": `"` + pointer + `"`, "Content-Length": "1008"}}},
			false, remoteFile{Location: cdn, Size: 548105171, SHA256: sum256, Commit: commit}, nil, ""},
		{"LFS redirect, X-Linked-* stripped", map[string]answer{"/a/b/resolve/r/f": {302, map[string]string{
			"Location": cdn, "X-Repo-Commit": commit, "ETag": `"` + pointer + `"`, "Content-Length": "1008"}}},
			false, remoteFile{Location: cdn, Size: -1, Commit: commit}, nil, "no X-Linked-Etag"},
		{"LFS redirect, only X-Linked-Size", map[string]answer{"/a/b/resolve/r/f": {302, map[string]string{
			"Location": cdn, "X-Repo-Commit": commit, "ETag": `"` + pointer + `"`, "X-Linked-Size": "99"}}},
			false, remoteFile{Location: cdn, Size: 99, Commit: commit}, nil, "no X-Linked-Etag"},
		{"regular file through the resolve cache", map[string]answer{
			"/a/b/resolve/r/f": {307, map[string]string{"Location": "/api/resolve-cache/models/a/b/" + commit + "/f?x=&etag=y", "X-Repo-Commit": commit, "X-Linked-Etag": `"` + gitSHA1 + `"`}},
			"/api/resolve-cache/models/a/b/" + commit + "/f": {200, map[string]string{"X-Repo-Commit": commit, "ETag": `"` + gitSHA1 + `"`, "Content-Length": "665"}}},
			false, remoteFile{Size: 665, GitSHA1: gitSHA1, Commit: commit}, nil, ""},
		{"renamed repo, then the CDN", map[string]answer{
			"/a/b/resolve/r/f":   {307, map[string]string{"Location": "/a/new/resolve/r/f"}},
			"/a/new/resolve/r/f": {302, map[string]string{"Location": cdn, "X-Repo-Commit": commit, "X-Linked-Etag": sum256, "X-Linked-Size": "5"}}},
			false, remoteFile{Location: cdn, Size: 5, SHA256: sum256, Commit: commit}, nil, ""},
		{"weak quoted ETag", map[string]answer{"/a/b/resolve/r/f": {200, map[string]string{"X-Repo-Commit": commit, "ETag": `W/"` + sum256 + `"`, "Content-Length": "5"}}},
			false, remoteFile{Size: 5, SHA256: sum256, Commit: commit}, nil, ""},
		{"an ETag that is no hash", map[string]answer{"/a/b/resolve/r/f": {200, map[string]string{"X-Repo-Commit": commit, "ETag": `"5d41402abc4b2a76-3"`, "Content-Length": "5"}}},
			false, remoteFile{Size: 5, Commit: commit}, nil, "neither a git sha1 nor a sha256"},
		{"no X-Repo-Commit", map[string]answer{"/a/b/resolve/r/f": {200, map[string]string{"ETag": `"` + gitSHA1 + `"`, "Content-Length": "5"}}},
			false, remoteFile{}, ErrNotHub, "without X-Repo-Commit"},
		{"a redirect to a login page", map[string]answer{"/a/b/resolve/r/f": {302, map[string]string{"Location": "http://login.example/portal"}}},
			false, remoteFile{}, ErrNotHub, "without X-Repo-Commit or ETag"},
		{"a plain mirror, allowed", map[string]answer{"/a/b/resolve/r/f": {200, map[string]string{"Content-Length": "5"}}},
			true, remoteFile{Size: 5}, nil, "no ETag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a, ok := tc.answers[r.URL.Path]
				if !ok {
					t.Errorf("unexpected request %s", r.URL)
					http.NotFound(w, r)
					return
				}
				last = r.URL.String()
				for k, v := range a.header {
					w.Header()[http.CanonicalHeaderKey(k)] = []string{v}
				}
				w.WriteHeader(a.status)
			}))
			defer srv.Close()
			opts := Options{Endpoint: srv.URL, Token: "-", AllowMissingHubHeaders: tc.allow, getenv: envOf(nil),
				sleep: func(context.Context, time.Duration) error { return nil }}
			r, err := opts.resolve("a/b")
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(srv.URL)
			p := &puller{resolved: r, repo: "a/b", endpointHost: u.Host, progress: newProgress(io.Discard)}
			p.initClients()
			got, err := p.stat(context.Background(), "r", "f")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("err = %v, want %v saying %q", err, tc.wantErr, tc.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Path, want.Rev = "f", "r"
			if want.Location == "" {
				want.Location = srv.URL + last
			}
			if !strings.Contains(got.Unverified, tc.says) || (tc.says == "") != (got.Unverified == "") {
				t.Errorf("Unverified = %q, want it to say %q", got.Unverified, tc.says)
			}
			got.Unverified = ""
			if got != want {
				t.Errorf("stat = %+v\nwant   %+v", got, want)
			}
		})
	}
}
