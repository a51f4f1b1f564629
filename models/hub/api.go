package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// repoInfo is the part of the hub's model API answer
// (GET {endpoint}/api/models/{repo}/revision/{revision}) that Pull uses.
type repoInfo struct {
	ID       string `json:"id"`
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
	CardData struct {
		License json.RawMessage `json:"license"`
	} `json:"cardData"`
	Tags []string `json:"tags"`
}

// files returns the repository's file paths.
func (ri *repoInfo) files() map[string]bool {
	m := make(map[string]bool, len(ri.Siblings))
	for _, s := range ri.Siblings {
		m[s.RFilename] = true
	}
	return m
}

// license returns the model card's license ("apache-2.0"), from cardData
// or else from a "license:..." tag; "" when the card names none.
func (ri *repoInfo) license() string {
	var s string
	if json.Unmarshal(ri.CardData.License, &s) == nil && s != "" {
		return s
	}
	var list []string
	if json.Unmarshal(ri.CardData.License, &list) == nil && len(list) > 0 {
		return strings.Join(list, ", ")
	}
	for _, t := range ri.Tags {
		if l, ok := strings.CutPrefix(t, "license:"); ok {
			return l
		}
	}
	return ""
}

// maxInfoBytes bounds the API answer; real ones are a few kilobytes, a
// repo with thousands of files a few hundred.
const maxInfoBytes = 32 << 20

// parseRepoInfo decodes and checks an API answer.
func parseRepoInfo(r io.Reader) (*repoInfo, error) {
	var ri repoInfo
	dec := json.NewDecoder(io.LimitReader(r, maxInfoBytes))
	if err := dec.Decode(&ri); err != nil {
		return nil, fmt.Errorf("the model API answer is not the hub's JSON: %w (is the endpoint a Hugging Face hub or mirror?)", err)
	}
	if ri.Siblings == nil {
		return nil, errors.New(`the model API answer lists no "siblings" (files): is the endpoint a Hugging Face hub or mirror?`)
	}
	for _, s := range ri.Siblings {
		if err := checkRepoPath(s.RFilename); err != nil {
			return nil, err
		}
	}
	return &ri, nil
}

// checkRepoPath rejects file names that would escape the download folder.
func checkRepoPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || strings.ContainsRune(p, 0) {
		return fmt.Errorf("the hub listed an unsafe file name %q", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("the hub listed an unsafe file name %q", p)
		}
	}
	return nil
}

// escapePath escapes each segment of a repo path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func (p *puller) infoURL() string {
	return p.endpoint + "/api/models/" + p.repo + "/revision/" + url.PathEscape(p.Revision)
}

func (p *puller) resolveURL(rev, path string) string {
	return p.endpoint + "/" + p.repo + "/resolve/" + url.PathEscape(rev) + "/" + escapePath(path)
}

// newRequest builds a request that carries the token only when it goes to
// the endpoint's own host.
func (p *puller) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "bertserve")
	if p.Token != "" && req.URL.Host == p.endpointHost {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	return req, nil
}

// do sends req and turns connection failures into ErrUnreachable.
func (p *puller) do(client *http.Client, req *http.Request) (*http.Response, error) {
	resp, err := client.Do(req)
	if err != nil {
		if isUnreachable(err) {
			return nil, unreachableError(p.endpoint, err)
		}
		return nil, err
	}
	return resp, nil
}

// fetchInfo lists the repository at the requested revision.
func (p *puller) fetchInfo(ctx context.Context) (*repoInfo, error) {
	what := fmt.Sprintf("listing %s at revision %q", p.repo, p.Revision)
	req, err := p.newRequest(ctx, http.MethodGet, p.infoURL())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.do(p.HTTPClient, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, httpError(resp, what, p.Token != "")
	}
	ri, err := parseRepoInfo(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ri, nil
}

// remoteFile is what a HEAD on a resolve URL says about one file.
type remoteFile struct {
	Path     string // path in the repository
	Location string // where to GET the bytes (the CDN for LFS files)
	Size     int64  // -1 when the hub did not say
	SHA256   string // LFS files: the content's sha256
	GitSHA1  string // small files: the git blob sha1
	Commit   string // X-Repo-Commit
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

// maxRedirects bounds the hub's relative redirects (renamed repos).
const maxRedirects = 5

// stat asks the hub where a file is and what it should hash to. The hub
// answers a HEAD on the resolve URL with the git blob sha1 in ETag for
// files stored in git, and for LFS files with a redirect to the CDN whose
// X-Linked-Etag and X-Linked-Size describe the real content. Relative
// redirects (a renamed repo) are followed with the token; the CDN is not
// contacted here.
func (p *puller) stat(ctx context.Context, rev, path string) (remoteFile, error) {
	what := fmt.Sprintf("looking up %s in %s", path, p.repo)
	u := p.resolveURL(rev, path)
	noFollow := *p.HTTPClient
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for range maxRedirects + 1 {
		req, err := p.newRequest(ctx, http.MethodHead, u)
		if err != nil {
			return remoteFile{}, fmt.Errorf("%s: %w", what, err)
		}
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := p.do(&noFollow, req)
		if err != nil {
			return remoteFile{}, fmt.Errorf("%s: %w", what, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			return remoteFile{}, httpError(resp, what, p.Token != "")
		}
		loc := u
		if resp.StatusCode >= 300 {
			l, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil || resp.Header.Get("Location") == "" {
				return remoteFile{}, fmt.Errorf("%s: redirect %s without a usable Location", what, resp.Status)
			}
			loc = l.String()
			relative := l.Host == req.URL.Host
			if relative && resp.Header.Get("X-Linked-Etag") == "" {
				u = loc // renamed repo: ask again at the new address
				continue
			}
		}
		f := remoteFile{Path: path, Location: loc, Size: -1, Commit: resp.Header.Get("X-Repo-Commit")}
		size := resp.Header.Get("X-Linked-Size")
		if size == "" && resp.StatusCode < 300 {
			size = resp.Header.Get("Content-Length")
		}
		if n, err := strconv.ParseInt(size, 10, 64); err == nil && n >= 0 {
			f.Size = n
		}
		etag := resp.Header.Get("X-Linked-Etag")
		if etag == "" {
			etag = resp.Header.Get("ETag")
		}
		switch etag = normalizeETag(etag); {
		case sha256Pattern.MatchString(etag):
			f.SHA256 = etag
		case sha1Pattern.MatchString(etag):
			f.GitSHA1 = etag
		}
		return f, nil
	}
	return remoteFile{}, fmt.Errorf("%s: more than %d redirects", what, maxRedirects)
}
