package serve

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func Example_prometheusText() {
	var reg promRegistry
	reqs := newCounterVec("demo_requests_total", "Requests.", "route", "code")
	lat := newHistogramVec("demo_seconds", "Latency.", []float64{0.1, 1})
	reg.register(reqs)
	reg.register(lat)
	reqs.add(1, "/embed", "200")
	reqs.add(2, "/embed", "200")
	reqs.add(1, `/a"b`, "500")
	lat.observe(0.05)
	lat.observe(0.1)
	lat.observe(3)
	reg.WriteTo(os.Stdout)
	// Output:
	// # HELP demo_requests_total Requests.
	// # TYPE demo_requests_total counter
	// demo_requests_total{route="/a\"b",code="500"} 1
	// demo_requests_total{route="/embed",code="200"} 3
	// # HELP demo_seconds Latency.
	// # TYPE demo_seconds histogram
	// demo_seconds_bucket{le="0.1"} 2
	// demo_seconds_bucket{le="1"} 2
	// demo_seconds_bucket{le="+Inf"} 3
	// demo_seconds_sum 3.15
	// demo_seconds_count 3
}

// sample reads one series value from an exposition.
func sample(t *testing.T, text, series string) float64 {
	t.Helper()
	re := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(series) + " (\\S+)$")
	m := re.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("series %s not found in\n%s", series, text)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	s.Heads().Put("a", newFakeHead("x", "y"))
	s.Heads().Put("b", newFakeHead("x", "y"))
	h := s.Handler()
	for i := range 3 {
		call(t, h, "POST", "/v1/classify", fmt.Sprintf(`{"inputs": ["t%d", "u%d"], "head": "a"}`, i, i))
	}
	call(t, h, "POST", "/v1/classify", `{"inputs": []}`)
	call(t, h, "GET", "/v1/heads/zz", nil)
	call(t, h, "GET", "/no/such/route", nil)

	rec := call(t, h, "GET", "/metrics", nil)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	text := rec.Body.String()
	checks := map[string]float64{
		`bertserve_requests_total{route="/v1/classify",method="POST",code="200"}`:   3,
		`bertserve_requests_total{route="/v1/classify",method="POST",code="400"}`:   1,
		`bertserve_requests_total{route="/v1/heads/:name",method="GET",code="404"}`: 1,
		`bertserve_requests_total{route="unmatched",method="GET",code="404"}`:       1,
		`bertserve_request_duration_seconds_count{route="/v1/classify"}`:            4,
		`bertserve_queue_duration_seconds_count`:                                    3,
		`bertserve_tokenize_duration_seconds_count`:                                 3,
		`bertserve_inference_duration_seconds_count`:                                3,
		`bertserve_batch_size_sum`:                                                  6,
		`bertserve_batch_size_count`:                                                3,
		`bertserve_batch_requests_sum`:                                              3,
		`bertserve_batch_tokens_sum`:                                                18, // 3 calls × 2 texts × [CLS] t [SEP]
		`bertserve_embedded_texts_total`:                                            6,
		`bertserve_heads_loaded`:                                                    2,
		`bertserve_queue_depth`:                                                     0,
		`bertserve_requests_in_flight`:                                              0,
		`bertserve_training_jobs{state="running"}`:                                  -1, // absent
	}
	for series, want := range checks {
		if want < 0 {
			if strings.Contains(text, series) {
				t.Errorf("unexpected series %s", series)
			}
			continue
		}
		if got := sample(t, text, series); got != want {
			t.Errorf("%s = %g, want %g", series, got, want)
		}
	}
	if rss := sample(t, text, "process_resident_memory_bytes"); rss <= 0 {
		t.Errorf("resident memory %g", rss)
	}
	// Every line is a comment or "name{labels} value".
	line := regexp.MustCompile(`^(# (HELP|TYPE) .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eE]+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (\+Inf|NaN))$`)
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if !line.MatchString(l) {
			t.Errorf("malformed exposition line %q", l)
		}
	}
}
