package hub

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The parts of the fake hub that make it behave like the live one beyond
// the URL layout: rate limits, signed CDN links that expire, Xet headers,
// proxies and mirrors that drop headers, and a captive portal.

const fakeWindow = 300 * time.Second

// rateLimit counts the request against its bucket's 5-minute fixed
// window, advertises the state on the answer as the hub does, and answers
// 429 (returning false) when the window's quota is spent.
func (h *fakeHub) rateLimit(w http.ResponseWriter, bucket string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	q, ok := h.quota[bucket]
	if !ok {
		q = h.anonQuota[bucket]
	}
	win := h.clock.Truncate(fakeWindow)
	if !win.Equal(h.window[bucket]) {
		h.window[bucket], h.used[bucket] = win, 0
	}
	h.used[bucket]++
	reset := int(math.Ceil(win.Add(fakeWindow).Sub(h.clock).Seconds()))
	w.Header().Set("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", bucket, max(q-h.used[bucket], 0), reset))
	w.Header().Set("RateLimit-Policy", fmt.Sprintf(`"fixed window";%q;q=%d;w=%d`, bucket, q, int(fakeWindow.Seconds())))
	if h.used[bucket] <= q {
		return true
	}
	h.limited++
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprint(w, "We had to rate limit you. To continue using our service, create a HF account or login to your existing account, and make sure you pass a HF_TOKEN if you're using the API.")
	return false
}

// injectFault answers with the next queued error for key, if any.
func (h *fakeHub) injectFault(w http.ResponseWriter, r *http.Request, key string) bool {
	h.mu.Lock()
	if len(h.fail[key]) == 0 {
		h.mu.Unlock()
		return false
	}
	f := h.fail[key][0]
	h.fail[key] = h.fail[key][1:]
	h.mu.Unlock()
	for k, v := range f.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(f.status)
	fmt.Fprint(w, f.body)
	return true
}

// cdnBase is the CDN's address as the client reached the hub: by name
// through fakeHub.client, or by IP.
func (h *fakeHub) cdnBase(r *http.Request) string {
	if host, _, _ := net.SplitHostPort(r.Host); host == fakeHubHost {
		return "http://" + fakeCDNHost + ":" + port(h.cdn)
	}
	return h.cdn.URL
}

func (h *fakeHub) sign(path string, expires int64) string {
	m := hmac.New(sha256.New, []byte(h.signingKey))
	fmt.Fprintf(m, "%s\n%d", path, expires)
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// redirectToCDN answers a resolve request for an LFS file as the live
// hub does for Xet-backed storage: 302 to a signed, expiring link on the
// CDN, with the content's sha256 and size in X-Linked-*, the pointer's
// sha1 as ETag and the Xet headers a Xet-aware client would use instead.
func (h *fakeHub) redirectToCDN(w http.ResponseWriter, r *http.Request, id string, repo *fakeRepo, name string, b []byte) {
	x := xetHash(b)
	path := "/xet-bridge-us/" + sha256Hex([]byte(id))[:24] + "/" + x
	h.mu.Lock()
	expires := h.clock.Add(h.linkTTL).Unix()
	h.mu.Unlock()
	q := url.Values{}
	q.Set("X-Xet-Cas-Uid", "public")
	q.Set("response-content-disposition", `inline; filename*=UTF-8''`+url.PathEscape(name))
	q.Set("Expires", strconv.FormatInt(expires, 10))
	q.Set("Signature", h.sign(path, expires))
	loc := h.cdnBase(r) + path + "?" + q.Encode()
	hub := "http://" + r.Host
	w.Header().Set("X-Linked-Etag", `"`+sha256Hex(b)+`"`)
	w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
	w.Header().Set("ETag", `"`+lfsPointerSHA1(b)+`"`)
	w.Header().Set("X-Xet-Hash", x)
	w.Header().Set("Link", "<"+hub+"/api/models/"+id+"/xet-read-token/"+repo.commit+`>; rel="xet-auth", <`+hub+"/cas/v1/reconstructions/"+x+`>; rel="xet-reconstruction-info"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusFound)
	fmt.Fprintf(w, "Found. Redirecting to %s", loc)
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var b []byte
	var name string
	if len(parts) == 3 && parts[0] == "xet-bridge-us" {
		b, name = h.blobByXet[parts[2]], h.blobName[parts[2]]
	}
	if name != "" && h.injectFault(w, r, "cdn:"+name) {
		return
	}
	expires, _ := strconv.ParseInt(r.URL.Query().Get("Expires"), 10, 64)
	h.mu.Lock()
	w.Header().Set("Date", h.clock.Format(http.TimeFormat))
	h.cdnAuth = append(h.cdnAuth, r.Header.Get("Authorization"))
	status := 0
	switch {
	case b == nil:
		status = http.StatusNotFound
	case h.cdnRefuse[name] > 0:
		h.cdnRefuse[name]--
		status = http.StatusForbidden
	case !hmac.Equal([]byte(r.URL.Query().Get("Signature")), []byte(h.sign(r.URL.Path, expires))) || h.clock.Unix() > expires:
		status = http.StatusForbidden
	}
	if r.Method == http.MethodGet {
		st := status
		if st == 0 {
			st = http.StatusOK
		}
		h.cdnLog = append(h.cdnLog, fmt.Sprintf("%d %s %s", st, name, r.Header.Get("Range")))
		if status == 0 {
			h.ranges[name] = append(h.ranges[name], r.Header.Get("Range"))
		}
	}
	h.mu.Unlock()
	switch status {
	case http.StatusNotFound:
		http.NotFound(w, r)
		return
	case http.StatusForbidden:
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
		return
	}
	w.Header().Set("ETag", `"`+parts[2]+`"`) // the Xet hash, not the sha256
	h.serveBytes(w, r, name, b)
}

// servePortal is a captive portal: it answers every request itself,
// either with its login page or with a redirect to it.
func (h *fakeHub) servePortal(w http.ResponseWriter, r *http.Request) {
	if h.portal == "redirect" && !strings.HasPrefix(r.URL.Path, "/portal/") {
		http.Redirect(w, r, "http://"+fakePortalHost+":"+port(h.hub)+"/portal/login?continue="+url.QueryEscape(r.URL.String()), http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Cache-Control", "no-cache")
	fmt.Fprint(w, "<html><body><h1>Welcome to Airport Wi-Fi</h1><p>Accept the terms to continue.</p></body></html>\n")
}

// wrap applies the hub-wide header faults (a proxy that strips X-Linked-*,
// a mirror without X-Repo-Commit and ETag) to an answer.
func (h *fakeHub) wrap(w http.ResponseWriter) http.ResponseWriter {
	if !h.stripLinked && !h.plainMirror {
		return w
	}
	return &strippingWriter{ResponseWriter: w, h: h}
}

type strippingWriter struct {
	http.ResponseWriter
	h     *fakeHub
	wrote bool
}

func (s *strippingWriter) strip() {
	if s.wrote {
		return
	}
	s.wrote = true
	hd := s.ResponseWriter.Header()
	hd.Del("X-Linked-Etag")
	hd.Del("X-Linked-Size")
	if s.h.plainMirror {
		hd.Del("X-Repo-Commit")
		hd.Del("ETag")
	}
}

func (s *strippingWriter) WriteHeader(code int) {
	s.strip()
	s.ResponseWriter.WriteHeader(code)
}

func (s *strippingWriter) Write(b []byte) (int, error) {
	s.strip()
	return s.ResponseWriter.Write(b)
}

func (s *strippingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return s.ResponseWriter.(http.Hijacker).Hijack()
}

// cdnLogOf returns the CDN's log lines for one file.
func (h *fakeHub) cdnLogOf(name string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, l := range h.cdnLog {
		if f := strings.Fields(l); len(f) >= 2 && f[1] == name {
			out = append(out, l)
		}
	}
	return out
}
