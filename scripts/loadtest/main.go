// Command loadtest measures bertserve under concurrent load on loopback:
// single-input classify (or embed) requests at several concurrency levels,
// bounded in time and request count. For each level it reports
// requests/s, p50/p90/p99 latency, errors, the mean encoder batch (texts
// and requests per call, from the server's /metrics) and the server's
// resident memory before and after.
//
//	go run ./scripts/loadtest -url http://127.0.0.1:8080 -concurrency 1,16,64 -requests 2000
//	go run ./scripts/loadtest -fake   # an in-process server with a synthetic encoder, to try the tool
//
// scripts/bench_serve.sh runs it against `bertserve serve` with batching
// on and off and prints the table for BENCHMARKS.md.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type options struct {
	url, route, head, textsPath, label string
	levels                             []int
	requests, warmup, rssEvery         int
	duration                           time.Duration
	header, fake                       bool
	fakeBatch                          int
}

func run() error {
	var o options
	var levels string
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8080", "server base URL (loopback)")
	flag.StringVar(&o.route, "route", "auto", "classify, embed, or auto (classify when a head is loaded)")
	flag.StringVar(&o.head, "head", "", "head to classify with (default: the server's only head)")
	flag.StringVar(&levels, "concurrency", "1,16,64", "comma-separated concurrency levels")
	flag.IntVar(&o.requests, "requests", 2000, "requests per level (upper bound)")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "time per level (upper bound)")
	flag.IntVar(&o.warmup, "warmup", 32, "unmeasured requests before each level")
	flag.StringVar(&o.textsPath, "texts", "", "sentences: a .txt (one per line) or .tsv/.jsonl whose first column/\"text\" is used (default: ../shared/data/sst2/dev.tsv if present, else built-in)")
	flag.StringVar(&o.label, "label", "", "label for the result rows (e.g. batched)")
	flag.BoolVar(&o.header, "header", true, "print the table header")
	flag.IntVar(&o.rssEvery, "rss-every", 0, "sample the server's resident memory every N requests and print the samples")
	flag.BoolVar(&o.fake, "fake", false, "start an in-process server with a synthetic encoder (2 ms + 20 µs/token per call) and test against it")
	flag.IntVar(&o.fakeBatch, "fake-max-batch-requests", 32, "--max-batch-requests of the -fake server")
	flag.Parse()
	for _, f := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-concurrency %q: want positive integers", levels)
		}
		o.levels = append(o.levels, n)
	}
	if o.fake {
		url, stop, err := startFake(o.fakeBatch)
		if err != nil {
			return err
		}
		defer stop()
		o.url = url
	}
	if err := checkLoopback(o.url); err != nil {
		return err
	}
	texts, err := loadTexts(o.textsPath)
	if err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	route, body, err := pickRoute(client, o)
	if err != nil {
		return err
	}
	if o.header {
		fmt.Printf("# %s, %d distinct texts, up to %d requests or %s per level\n", route, len(texts), o.requests, o.duration)
		fmt.Println("| run | concurrency | requests | errors | req/s | p50 ms | p90 ms | p99 ms | texts/batch | requests/batch | RSS MiB before → after |")
		fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	}
	for _, c := range o.levels {
		r, err := runLevel(client, o, route, body, texts, c)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %d | %d | %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.0f → %.0f |\n",
			o.label, c, r.n, r.errorSummary(), r.rate, ms(r.p50), ms(r.p90), ms(r.p99), r.batchTexts, r.batchReqs, r.rssBefore/(1<<20), r.rssAfter/(1<<20))
		if len(r.rssSamples) > 0 {
			fmt.Printf("RSS MiB every %d requests:", o.rssEvery)
			for _, v := range r.rssSamples {
				fmt.Printf(" %.0f", v/(1<<20))
			}
			fmt.Println()
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// checkLoopback refuses anything but a loopback server: this is a load
// generator.
func checkLoopback(raw string) error {
	re := regexp.MustCompile(`^https?://([^/:]+|\[[^\]]+\])(:\d+)?(/.*)?$`)
	m := re.FindStringSubmatch(raw)
	if m == nil {
		return fmt.Errorf("-url %q is not an http URL", raw)
	}
	host := strings.Trim(m[1], "[]")
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-url %s: only loopback servers (127.0.0.1, ::1, localhost) may be load-tested", raw)
}

func pickRoute(client *http.Client, o options) (string, func(text string) any, error) {
	var heads struct {
		Heads []struct {
			Name string `json:"name"`
		} `json:"heads"`
	}
	if err := getJSON(client, o.url+"/v1/heads", &heads); err != nil {
		return "", nil, fmt.Errorf("is the server up? %w", err)
	}
	route := o.route
	if route == "auto" {
		route = "embed"
		if len(heads.Heads) > 0 {
			route = "classify"
		}
	}
	switch route {
	case "classify":
		head := o.head
		if head == "" {
			if len(heads.Heads) == 0 {
				return "", nil, errors.New("the server has no heads: train one, or use -route embed")
			}
			head = heads.Heads[0].Name
		}
		return "POST /v1/classify (head " + head + ")", func(t string) any {
			return map[string]any{"inputs": t, "head": head}
		}, nil
	case "embed":
		return "POST /embed", func(t string) any { return map[string]any{"inputs": t, "truncate": true} }, nil
	}
	return "", nil, fmt.Errorf("-route %q: want classify, embed or auto", o.route)
}

type levelResult struct {
	n                   int
	rate                float64
	p50, p90, p99       time.Duration
	errors              map[string]int
	batchTexts          float64
	batchReqs           float64
	rssBefore, rssAfter float64
	rssSamples          []float64
}

func (r levelResult) errorSummary() string {
	if len(r.errors) == 0 {
		return "0"
	}
	var parts []string
	for k, v := range r.errors {
		parts = append(parts, fmt.Sprintf("%d×%s", v, k))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func runLevel(client *http.Client, o options, route string, body func(string) any, texts []string, conc int) (levelResult, error) {
	url := o.url + "/v1/classify"
	if strings.HasPrefix(route, "POST /embed") {
		url = o.url + "/embed"
	}
	payloads := make([][]byte, len(texts))
	for i, t := range texts {
		payloads[i], _ = json.Marshal(body(t))
	}
	send := func(i int) (time.Duration, string) {
		start := time.Now()
		resp, err := client.Post(url, "application/json", bytes.NewReader(payloads[i%len(payloads)]))
		if err != nil {
			return 0, "neterr"
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, strconv.Itoa(resp.StatusCode)
		}
		return time.Since(start), ""
	}
	// Warm-up, unmeasured (connections, caches, the first ORT runs).
	var wg sync.WaitGroup
	for w := range min(conc, o.warmup) {
		wg.Go(func() {
			for i := w; i < o.warmup; i += conc {
				send(i)
			}
		})
	}
	wg.Wait()

	before, err := scrape(client, o.url)
	if err != nil {
		return levelResult{}, err
	}
	var next atomic.Int64
	lat := make([]time.Duration, o.requests)
	var mu sync.Mutex
	errs := map[string]int{}
	var samples []float64
	deadline := time.Now().Add(o.duration)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.requests || time.Now().After(deadline) {
					return
				}
				d, e := send(i)
				lat[i] = d
				if e != "" {
					mu.Lock()
					errs[e]++
					mu.Unlock()
				}
				if o.rssEvery > 0 && (i+1)%o.rssEvery == 0 {
					if m, err := scrape(client, o.url); err == nil {
						mu.Lock()
						samples = append(samples, m["process_resident_memory_bytes"])
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := scrape(client, o.url)
	if err != nil {
		return levelResult{}, err
	}
	n := min(int(next.Load()), o.requests)
	var ok []time.Duration
	for _, d := range lat[:n] {
		if d > 0 {
			ok = append(ok, d)
		}
	}
	slices.Sort(ok)
	pct := func(p float64) time.Duration {
		if len(ok) == 0 {
			return 0
		}
		return ok[min(len(ok)-1, int(p*float64(len(ok))))]
	}
	delta := func(k string) float64 { return after[k] - before[k] }
	r := levelResult{n: n, rate: float64(len(ok)) / elapsed.Seconds(), p50: pct(0.50), p90: pct(0.90), p99: pct(0.99),
		errors: errs, rssBefore: before["process_resident_memory_bytes"], rssAfter: after["process_resident_memory_bytes"], rssSamples: samples}
	if c := delta("bertserve_batch_size_count"); c > 0 {
		r.batchTexts = delta("bertserve_batch_size_sum") / c
		r.batchReqs = delta("bertserve_batch_requests_sum") / c
	}
	return r, nil
}

// scrape reads the unlabelled series of the server's /metrics.
func scrape(client *http.Client, base string) (map[string]float64, error) {
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("reading /metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

var builtinTexts = []string{
	"a gripping, beautifully acted film that stays with you",
	"the plot is thin and the jokes fall flat",
	"an uneven but often charming comedy",
	"I would not watch this again",
	"one of the best documentaries of the year",
	"the service was slow and the food was cold",
	"what time does the museum open on sundays ?",
	"stocks fell sharply after the central bank raised rates",
}

// loadTexts reads sentences for the requests.
func loadTexts(path string) ([]string, error) {
	if path == "" {
		for _, p := range []string{"../shared/data/sst2/dev.tsv", "../../shared/data/sst2/dev.tsv"} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return builtinTexts, nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var texts []string
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasSuffix(path, ".jsonl"):
			var obj struct {
				Text string `json:"text"`
			}
			if json.Unmarshal([]byte(l), &obj) == nil && obj.Text != "" {
				texts = append(texts, obj.Text)
			}
		case strings.HasSuffix(path, ".tsv"):
			if i == 0 {
				continue // header
			}
			if f, _, _ := strings.Cut(l, "\t"); f != "" {
				texts = append(texts, f)
			}
		default:
			if l != "" {
				texts = append(texts, l)
			}
		}
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("%s: no texts", path)
	}
	return texts, nil
}
