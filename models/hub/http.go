package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// newRequest builds a request that carries the token only when it goes to
// the endpoint's own host.
func (p *puller) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "bertserve")
	if p.token.value != "" && req.URL.Host == p.endpointHost {
		req.Header.Set("Authorization", "Bearer "+p.token.value)
	}
	return req, nil
}

// initClients derives the two clients Pull uses from Options.HTTPClient:
// follow, for the API listing and downloads, follows redirects but drops
// Authorization as soon as a redirect leaves the first request's host
// (Go's default keeps it for subdomains, and the hub's CDN,
// cdn-lfs.huggingface.co, is one); noFollow, for HEADs, returns 3xx
// answers so that stat reads the hub's X-Linked-* headers off them.
func (p *puller) initClients() {
	f := *p.HTTPClient
	f.CheckRedirect = dropAuthOffHost(p.HTTPClient.CheckRedirect)
	p.follow = &f
	nf := *p.HTTPClient
	nf.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p.noFollow = &nf
}

// dropAuthOffHost wraps a redirect policy (nil: Go's default of at most 10
// redirects) so that Authorization never reaches a host other than the
// first request's, nor anything after such a host.
func dropAuthOffHost(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first := via[0].URL.Host
		left := req.URL.Host != first
		for _, r := range via[1:] {
			left = left || r.URL.Host != first
		}
		if left {
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// send does one request to the hub (the API listing or a HEAD) and
// returns its answer when the status is below 400. Dropped connections
// and 408/429/5xx answers are retried through retryDelay; refusals (401,
// 403, 404, a disabled repo) come back at once as errors wrapping the
// sentinels, and a failed dial as ErrUnreachable. what names the request
// in progress lines.
func (p *puller) send(ctx context.Context, client *http.Client, method, u, what string, setup func(*http.Request)) (*http.Response, error) {
	for failures := 1; ; failures++ {
		req, err := p.newRequest(ctx, method, u)
		if err != nil {
			return nil, err
		}
		if setup != nil {
			setup(req)
		}
		resp, err := client.Do(req)
		if err == nil && resp.StatusCode < 400 {
			return resp, nil
		}
		if err != nil {
			if isUnreachable(err) {
				return nil, unreachableError(p.endpoint, err)
			}
		} else {
			err = p.httpError(resp)
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if !retryable(ctx, err) {
			return nil, err
		}
		if failures > p.MaxRetries {
			return nil, fmt.Errorf("%w (gave up after %d retries)", err, p.MaxRetries)
		}
		d, werr := p.retryDelay(failures, err)
		if werr != nil {
			return nil, werr
		}
		p.progress.retry(what, 0, err, d)
		if err := p.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}
