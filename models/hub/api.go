package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
		return nil, fmt.Errorf("%w: the model API answered with something other than the hub's JSON (%v); check HF_ENDPOINT, and whether a captive portal or proxy answers instead (open any web page in a browser)", ErrNotHub, err)
	}
	if ri.Siblings == nil {
		return nil, fmt.Errorf(`%w: the model API answer lists no "siblings" (files); check HF_ENDPOINT`, ErrNotHub)
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

// fetchInfo lists the repository at the requested revision. A renamed
// repo answers with a relative redirect to its new name, which the client
// follows with the token (same host).
func (p *puller) fetchInfo(ctx context.Context) (*repoInfo, error) {
	what := fmt.Sprintf("listing %s at revision %q", p.repo, p.Revision)
	resp, err := p.send(ctx, p.follow, http.MethodGet, p.infoURL(), what, func(r *http.Request) {
		r.Header.Set("Accept", "application/json")
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %w: the model API answered %s instead of the repo's JSON; check HF_ENDPOINT", what, ErrNotHub, resp.Status)
	}
	ri, err := parseRepoInfo(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if ri.ID != "" && ri.ID != p.repo {
		p.progress.note("%s is now %s on the hub (renamed or moved); following the hub's redirects", p.repo, ri.ID)
	}
	return ri, nil
}
