package serve

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"time"
)

// serverMetrics are the series GET /metrics exports.
type serverMetrics struct {
	reg promRegistry

	requests      *counterVec   // route, method, code
	duration      *histogramVec // route
	queue         *histogramVec // per request
	tokenize      *histogramVec // per request (the server's own tokenization)
	inference     *histogramVec // per batch
	batchTexts    *histogramVec
	batchRequests *histogramVec
	batchTokens   *histogramVec
	embedded      *counterVec
	batchErrors   *counterVec
	truncated     *counterVec
}

var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newServerMetrics(queueDepth, inFlight, headsLoaded func() float64, jobStates func() []gaugeSample) *serverMetrics {
	m := &serverMetrics{
		requests: newCounterVec("bertserve_requests_total",
			"HTTP requests by route pattern, method and status code.", "route", "method", "code"),
		duration: newHistogramVec("bertserve_request_duration_seconds",
			"Wall time of HTTP requests by route pattern.", latencyBuckets, "route"),
		queue: newHistogramVec("bertserve_queue_duration_seconds",
			"Time a request waited in the batch queue before its encoder call started.", latencyBuckets),
		tokenize: newHistogramVec("bertserve_tokenize_duration_seconds",
			"Time spent tokenizing a request's inputs before batching.", latencyBuckets),
		inference: newHistogramVec("bertserve_inference_duration_seconds",
			"Encoder time of one batch (ONNX Runtime plus its own tokenization).", latencyBuckets),
		batchTexts: newHistogramVec("bertserve_batch_size",
			"Texts per encoder call.", expBuckets(1, 2, 10)),
		batchRequests: newHistogramVec("bertserve_batch_requests",
			"Requests merged into one encoder call.", expBuckets(1, 2, 8)),
		batchTokens: newHistogramVec("bertserve_batch_tokens",
			"Tokens per encoder call, before padding.", expBuckets(16, 2, 12)),
		embedded: newCounterVec("bertserve_embedded_texts_total",
			"Texts embedded for requests (training jobs not included)."),
		batchErrors: newCounterVec("bertserve_batch_errors_total",
			"Encoder calls that failed."),
		truncated: newCounterVec("bertserve_truncated_inputs_total",
			"Request inputs cut to the model's maximum length (truncate, or --auto-truncate)."),
	}
	for _, c := range []collector{m.requests, m.duration, m.queue, m.tokenize, m.inference,
		m.batchTexts, m.batchRequests, m.batchTokens, m.embedded, m.batchErrors, m.truncated} {
		m.reg.register(c)
	}
	m.reg.register(newGauge("bertserve_queue_depth", "Requests waiting for an encoder call.", queueDepth))
	m.reg.register(newGauge("bertserve_requests_in_flight", "Inference requests being served.", inFlight))
	m.reg.register(newGauge("bertserve_heads_loaded", "Heads loaded and serving.", headsLoaded))
	m.reg.register(&gaugeFunc{name: "bertserve_training_jobs", help: "Training jobs by state.",
		labels: []string{"state"}, read: jobStates})
	m.reg.register(newGauge("process_resident_memory_bytes", "Resident memory size in bytes.", residentBytes))
	m.reg.register(newGauge("go_goroutines", "Number of goroutines that currently exist.",
		func() float64 { return float64(runtime.NumGoroutine()) }))
	m.reg.register(newGauge("go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", func() float64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapInuse)
	}))
	return m
}

func (m *serverMetrics) observeBatch(s BatchStats) {
	if s.Err != nil {
		m.batchErrors.add(1)
		return
	}
	m.inference.observe(s.Inference.Seconds())
	m.batchTexts.observe(float64(s.Texts))
	m.batchRequests.observe(float64(s.Requests))
	m.batchTokens.observe(float64(s.Tokens))
	m.embedded.add(float64(s.Texts))
}

func (m *serverMetrics) observeRequest(route, method string, code int, d time.Duration) {
	m.requests.add(1, route, method, strconv.Itoa(code))
	m.duration.observe(d.Seconds(), route)
}

// residentBytes reads the resident set size from /proc (0 elsewhere).
func residentBytes() float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := bytes.Fields(data)
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseFloat(string(fields[1]), 64)
	if err != nil {
		return 0
	}
	return pages * float64(os.Getpagesize())
}
