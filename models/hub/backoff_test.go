package hub

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]rateLimitItem{
		`"api";r=0;t=55`:                        {{"api", 0, 55}},
		`"resolvers";r=2997;t=258`:              {{"resolvers", 2997, 258}},
		`"api";r=3;t=20, "resolvers";r=0;t=100`: {{"api", 3, 20}, {"resolvers", 0, 100}},
		` api ; r = 7 ; t = 9 `:                 {{"api", 7, 9}},
		`"api";t=5`:                             {{"api", -1, 5}},
		`"api";r=x;t=-3`:                        {{"api", -1, -1}},
		``:                                      nil,
	} {
		if got := parseRateLimit(in); !reflect.DeepEqual(got, want) {
			t.Errorf("parseRateLimit(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestParseRatePolicy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]ratePolicyItem{
		`"fixed window";"api";q=500;w=300`:        {{"api", 500, 300}},
		`"fixed window";"resolvers";q=3000;w=300`: {{"resolvers", 3000, 300}},
		`"api";q=100;w=10`:                        {{"api", 100, 10}},
	} {
		if got := parseRatePolicy(in); !reflect.DeepEqual(got, want) {
			t.Errorf("parseRatePolicy(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 9, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7", 7 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{"99999999999999", 24 * time.Hour, true},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRetryHint(t *testing.T) {
	t.Parallel()
	date := time.Date(2026, 9, 23, 12, 0, 0, 0, time.UTC)
	hdr := func(kv ...string) http.Header {
		h := http.Header{"Date": {date.Format(http.TimeFormat)}}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		h      http.Header
		status int
		wait   time.Duration
		limit  string
	}{
		{"the hub's 429", hdr("RateLimit", `"api";r=0;t=55`, "RateLimit-Policy", `"fixed window";"api";q=500;w=300`), 429, 56 * time.Second, "rate limit api: 500 requests per 5m0s"},
		{"Retry-After wins", hdr("Retry-After", "7", "RateLimit", `"api";r=0;t=55`), 429, 7 * time.Second, "rate limit api"},
		{"the spent bucket of two", hdr("RateLimit", `"api";r=12;t=20, "resolvers";r=0;t=100`, "RateLimit-Policy", `"fixed window";"api";q=500;w=300, "fixed window";"resolvers";q=3000;w=300`), 429, 101 * time.Second, "rate limit resolvers: 3000 requests per 5m0s"},
		{"a 503 with quota left", hdr("RateLimit", `"api";r=12;t=20`), 503, 0, ""},
		{"a 503 with Retry-After", hdr("Retry-After", date.Add(time.Minute).Format(http.TimeFormat)), 503, time.Minute, ""},
		{"a bare 429", hdr(), 429, 0, "rate limited"},
	} {
		wait, limit := retryHint(tc.h, tc.status)
		if wait != tc.wait || limit != tc.limit {
			t.Errorf("%s: retryHint = %v, %q; want %v, %q", tc.name, wait, limit, tc.wait, tc.limit)
		}
	}
}

func TestRetryDelayRefusesLongWaits(t *testing.T) {
	t.Parallel()
	p := &puller{}
	if d, err := p.retryDelay(3, &statusError{status: 429, wait: 56 * time.Second}); err != nil || d != 56*time.Second {
		t.Errorf("retryDelay(56s) = %v, %v", d, err)
	}
	if d, err := p.retryDelay(3, &statusError{status: 503}); err != nil || d != backoff(3) {
		t.Errorf("retryDelay(no hint) = %v, %v; want backoff(3)", d, err)
	}
	_, err := p.retryDelay(1, &statusError{who: "the hub", status: 429, detail: "429 Too Many Requests", wait: 3 * time.Hour})
	if err == nil || !strings.Contains(err.Error(), "3h0m0s") || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Errorf("retryDelay(3h) = %v, want ErrRateLimited naming the wait and the token", err)
	}
}

func FuzzParseRateLimit(f *testing.F) {
	f.Add(`"api";r=0;t=55`)
	f.Add(`"fixed window";"api";q=500;w=300`)
	f.Add(`a;b=;=c,,;"`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, it := range parseRateLimit(s) {
			if it.remaining < -1 || it.reset < -1 {
				t.Fatalf("negative values from %q: %+v", s, it)
			}
		}
		for _, it := range parseRatePolicy(s) {
			if it.quota < -1 || it.window < -1 {
				t.Fatalf("negative values from %q: %+v", s, it)
			}
		}
		retryHint(http.Header{"Ratelimit": {s}, "Ratelimit-Policy": {s}, "Retry-After": {s}}, 429)
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	f.Add("7")
	f.Add("Wed, 23 Sep 2026 12:00:30 GMT")
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := parseRetryAfter(s, time.Unix(0, 0)); ok && (d < 0 || d > 24*time.Hour) {
			t.Fatalf("parseRetryAfter(%q) = %v", s, d)
		}
	})
}
