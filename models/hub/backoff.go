package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Every request Pull makes (the API listing, each HEAD, each download
// attempt) retries through the same rule: wait what the answer asks for
// (Retry-After, or the hub's RateLimit header once its quota is spent),
// else back off exponentially; never wait longer than maxRetryWait.
//
// The hub rate-limits in 5-minute fixed windows per bucket ("api" for the
// model API, "resolvers" for /resolve/ URLs, "pages") and says so on every
// answer with the headers of the IETF draft "RateLimit header fields for
// HTTP" (draft-ietf-httpapi-ratelimit-headers):
//
//	RateLimit: "api";r=0;t=55                      remaining requests, seconds to the reset
//	RateLimit-Policy: "fixed window";"api";q=500;w=300   quota per window of w seconds
//
// and answers 429 when the window's quota is spent.

// maxRetryWait is the longest wait Pull accepts; a longer one fails with
// ErrRateLimited so that the user can decide (the hub's windows last five
// minutes, so a longer wait means something else is going on).
const maxRetryWait = 10 * time.Minute

// backoff is the wait before the failures-th consecutive retry when the
// answer names none: 250ms, 500ms, 1s ... capped at 8s.
func backoff(failures int) time.Duration {
	d := 250 * time.Millisecond << min(max(failures, 1)-1, 5)
	return min(d, 8*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryDelay is how long to wait before the failures-th retry after err,
// or an ErrRateLimited error when the answer asks for more than
// maxRetryWait.
func (p *puller) retryDelay(failures int, err error) (time.Duration, error) {
	var se *statusError
	if !errors.As(err, &se) || se.wait <= 0 {
		return backoff(failures), nil
	}
	if se.wait > maxRetryWait {
		hint := ""
		if p.token.value == "" {
			hint = "; the hub's limits are higher with a token: set HF_TOKEN or run `hf auth login`"
		}
		return 0, fmt.Errorf("%w for another %s (%s)%s; run the same command again later", ErrRateLimited, se.wait.Round(time.Second), se, hint)
	}
	return se.wait, nil
}

// retryHint reads the wait an answer asks for and, for messages, the rate
// limit it names. Retry-After (seconds or an HTTP date, taken relative to
// the answer's Date) wins; else, on a 429 or when a RateLimit item has no
// requests left, the longest reset time among the spent items, plus a
// second because the hub rounds it to whole seconds.
func retryHint(h http.Header, status int) (time.Duration, string) {
	items := parseRateLimit(h.Get("RateLimit"))
	var wait time.Duration
	var spent *rateLimitItem
	for i, it := range items {
		if it.reset >= 0 && (it.remaining == 0 || status == http.StatusTooManyRequests && it.remaining < 0) {
			if d := time.Duration(it.reset+1) * time.Second; d > wait {
				wait, spent = d, &items[i]
			}
		}
	}
	if status == http.StatusTooManyRequests && spent == nil && len(items) > 0 && items[0].reset >= 0 {
		wait, spent = time.Duration(items[0].reset+1)*time.Second, &items[0]
	}
	if d, ok := parseRetryAfter(h.Get("Retry-After"), dateOf(h)); ok {
		wait = d
	}
	limit := ""
	if spent != nil || status == http.StatusTooManyRequests {
		name := ""
		if spent != nil {
			name = spent.name
		}
		limit = describeLimit(name, parseRatePolicy(h.Get("RateLimit-Policy")))
	}
	return wait, limit
}

// dateOf is the answer's Date, or now.
func dateOf(h http.Header) time.Time {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t
	}
	return time.Now()
}

// parseRetryAfter reads Retry-After: delay-seconds or an HTTP date
// (relative to now, the answer's Date).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), 24*time.Hour), true
}

// rateLimitItem is one item of a RateLimit header; -1 where it does not
// say.
type rateLimitItem struct {
	name             string
	remaining, reset int64
}

// ratePolicyItem is one item of a RateLimit-Policy header; -1 where it
// does not say.
type ratePolicyItem struct {
	name          string
	quota, window int64
}

// sfItems splits a structured-field list leniently: items separated by
// commas, members by semicolons; members without '=' are names (the last
// one wins, so the hub's `"fixed window";"api";q=...` names "api"),
// key=value members are integer parameters.
func sfItems(v string, each func(name string, params map[string]int64)) {
	if len(v) > 4096 {
		v = v[:4096]
	}
	for _, item := range strings.Split(v, ",") {
		name := ""
		params := map[string]int64{}
		for _, m := range strings.Split(item, ";") {
			m = strings.TrimSpace(m)
			key, val, ok := strings.Cut(m, "=")
			if !ok {
				if s := strings.Trim(m, `"`); s != "" {
					name = s
				}
				continue
			}
			n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
			if err == nil && n >= 0 {
				params[strings.ToLower(strings.TrimSpace(key))] = n
			}
		}
		if name != "" || len(params) > 0 {
			each(name, params)
		}
	}
}

func param(m map[string]int64, k string) int64 {
	if v, ok := m[k]; ok {
		return v
	}
	return -1
}

// parseRateLimit reads RateLimit: "api";r=0;t=55 (a list, one item per
// bucket).
func parseRateLimit(v string) []rateLimitItem {
	var out []rateLimitItem
	sfItems(v, func(name string, p map[string]int64) {
		out = append(out, rateLimitItem{name: name, remaining: param(p, "r"), reset: param(p, "t")})
	})
	return out
}

// parseRatePolicy reads RateLimit-Policy: "fixed window";"api";q=500;w=300.
func parseRatePolicy(v string) []ratePolicyItem {
	var out []ratePolicyItem
	sfItems(v, func(name string, p map[string]int64) {
		out = append(out, ratePolicyItem{name: name, quota: param(p, "q"), window: param(p, "w")})
	})
	return out
}

// describeLimit puts the policy of the bucket name in words:
// "api: 500 requests per 5m0s".
func describeLimit(name string, policies []ratePolicyItem) string {
	for _, pol := range policies {
		if (name == "" || pol.name == name) && pol.quota >= 0 {
			s := fmt.Sprintf("%d requests", pol.quota)
			if pol.window > 0 {
				s += " per " + (time.Duration(pol.window) * time.Second).String()
			}
			if pol.name != "" {
				s = pol.name + ": " + s
			}
			return "rate limit " + s
		}
	}
	if name != "" {
		return "rate limit " + name
	}
	return "rate limited"
}
