package hub

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// remoteFile is what a HEAD on a resolve URL says about one file.
type remoteFile struct {
	Path     string // path in the repository
	Rev      string // the revision it was asked for (the pinned commit), to ask again for a fresh link
	Location string // where to GET the bytes (the CDN for LFS files)
	Size     int64  // -1 when the hub did not say
	SHA256   string // LFS files: the content's sha256
	GitSHA1  string // small files: the git blob sha1
	Commit   string // X-Repo-Commit
	// Unverified says why the hub gave no checksum to check the file
	// against ("" when it gave one); only the size is checked then.
	Unverified string
}

// verified reports whether the download will be checked against a hash.
func (f remoteFile) verified() bool { return f.SHA256 != "" || f.GitSHA1 != "" }

// check says how the downloaded file was checked, for the progress line.
func (f remoteFile) check() string {
	switch {
	case f.verified():
		return "checksum ok"
	case f.Size >= 0:
		return "size checked only: " + f.Unverified
	}
	return "not checked: " + f.Unverified
}

// sameContent reports whether two answers about a file can describe the
// same bytes (an unknown hash or size matches anything).
func (f remoteFile) sameContent(g remoteFile) bool {
	differ := func(a, b string) bool { return a != "" && b != "" && a != b }
	return !differ(f.SHA256, g.SHA256) && !differ(f.GitSHA1, g.GitSHA1) &&
		!(f.Size >= 0 && g.Size >= 0 && f.Size != g.Size)
}

var (
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	sha1Pattern   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// normalizeETag strips the weak marker and quotes: W/"abc" -> abc.
func normalizeETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

// maxRedirects bounds the hub's own redirects (a renamed repo, then the
// resolve cache).
const maxRedirects = 5

// stat asks the hub where a file is and what it should hash to, as
// huggingface_hub's get_hf_file_metadata does. It sends HEAD to the
// resolve URL and follows the hub's own redirects (same host: a renamed
// repo's 307, the 307 to /api/resolve-cache/... that every regular file
// gets) with the token. It stops at the first redirect to another host (a
// CDN, for LFS files) and reads the file's description off that redirect:
// X-Linked-Etag (the content's sha256) and X-Linked-Size; a 200 answer
// describes the file itself with ETag (git blob sha1, or sha256) and
// Content-Length. The CDN is not contacted here.
func (p *puller) stat(ctx context.Context, rev, path string) (remoteFile, error) {
	start := p.resolveURL(rev, path)
	u := start
	for range maxRedirects + 1 {
		resp, err := p.send(ctx, p.noFollow, http.MethodHead, u, path, func(r *http.Request) {
			r.Header.Set("Accept-Encoding", "identity")
		})
		if err != nil {
			return remoteFile{}, err
		}
		resp.Body.Close()
		if resp.StatusCode < 300 {
			return p.fromAnswer(resp, rev, path, start, u)
		}
		l, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil || resp.Header.Get("Location") == "" {
			return remoteFile{}, fmt.Errorf("%w: HEAD %s answered %s without a usable Location", ErrNotHub, u, resp.Status)
		}
		if l.Host == resp.Request.URL.Host || l.Host == p.endpointHost {
			u = l.String()
			continue
		}
		return p.fromRedirect(resp, rev, path, start, l.String())
	}
	return remoteFile{}, fmt.Errorf("more than %d redirects on the hub for %s", maxRedirects, p.resolveURL(rev, path))
}

// fromRedirect describes a file from the hub's redirect to another host.
// Only X-Linked-Etag and X-Linked-Size describe the file there: the
// redirect's own ETag is the LFS pointer's sha1 and its Content-Length the
// redirect body's. Without X-Linked-Etag (a proxy or mirror that strips
// it) the file is checked by size only, and the progress says so.
func (p *puller) fromRedirect(resp *http.Response, rev, path, start, loc string) (remoteFile, error) {
	h := resp.Header
	f := remoteFile{Path: path, Rev: rev, Location: loc, Size: -1, Commit: h.Get("X-Repo-Commit")}
	if err := p.checkHubAnswer(resp, start, f.Commit, h.Get("X-Linked-Etag") != "" || h.Get("ETag") != "", loc); err != nil {
		return f, err
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Linked-Size")), 10, 64); err == nil && n >= 0 {
		f.Size = n
	}
	f.setHash(h.Get("X-Linked-Etag"))
	if !f.verified() {
		f.Unverified = "the hub's redirect carried no X-Linked-Etag (a proxy or mirror may strip it)"
		if h.Get("X-Linked-Etag") != "" {
			f.Unverified = fmt.Sprintf("the hub's X-Linked-Etag %q is neither a sha256 nor a git sha1", h.Get("X-Linked-Etag"))
		}
	}
	return f, nil
}

// fromAnswer describes a file the hub (or a mirror) serves itself.
func (p *puller) fromAnswer(resp *http.Response, rev, path, start, u string) (remoteFile, error) {
	h := resp.Header
	f := remoteFile{Path: path, Rev: rev, Location: u, Size: -1, Commit: h.Get("X-Repo-Commit")}
	etag := h.Get("X-Linked-Etag")
	if etag == "" {
		etag = h.Get("ETag")
	}
	if err := p.checkHubAnswer(resp, start, f.Commit, etag != "", ""); err != nil {
		return f, err
	}
	size := h.Get("X-Linked-Size")
	if size == "" {
		size = h.Get("Content-Length")
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64); err == nil && n >= 0 {
		f.Size = n
	} else if resp.ContentLength >= 0 {
		f.Size = resp.ContentLength
	}
	f.setHash(etag)
	switch {
	case f.verified():
	case etag == "":
		f.Unverified = "the mirror sent no ETag"
	default:
		f.Unverified = fmt.Sprintf("the hub's ETag %q is neither a git sha1 nor a sha256", etag)
	}
	return f, nil
}

func (f *remoteFile) setHash(etag string) {
	switch e := normalizeETag(etag); {
	case sha256Pattern.MatchString(e):
		f.SHA256 = e
	case sha1Pattern.MatchString(e):
		f.GitSHA1 = e
	}
}

// checkHubAnswer refuses a file answer without X-Repo-Commit or an ETag,
// which every answer of the hub has (as huggingface_hub requires too):
// what answers instead is a captive portal, a proxy's page or a wrong
// endpoint, and its body must not be saved as config.json.
// start is the resolve URL asked for, which the message names (the
// answer may come after the hub's own redirects).
func (p *puller) checkHubAnswer(resp *http.Response, start, commit string, hasETag bool, redirect string) error {
	if p.AllowMissingHubHeaders {
		return nil
	}
	var missing []string
	if commit == "" {
		missing = append(missing, "X-Repo-Commit")
	}
	if !hasETag {
		missing = append(missing, "ETag")
	}
	if len(missing) == 0 {
		return nil
	}
	to := ""
	if redirect != "" {
		to = " (a redirect to " + redirect + ")"
	} else if resp.Request.URL.String() != start {
		to = " (after the hub's redirects)"
	}
	return fmt.Errorf("%w: HEAD %s answered %s%s without %s. A captive portal (open any web page in a browser to log in), a proxy or a wrong HF_ENDPOINT answers like this; "+
		"for a mirror that does not send these headers, run again with --allow-missing-hub-headers",
		ErrNotHub, start, resp.Status, to, strings.Join(missing, " or "))
}
