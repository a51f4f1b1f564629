package serve

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// A tiny Prometheus text-exposition writer (format 0.0.4): counters,
// gauges and histograms with labels. It keeps the module free of
// client_golang for the dozen series the server exports.

type collector interface {
	write(w *bufio.Writer)
}

// promRegistry holds collectors in registration order.
type promRegistry struct {
	mu         sync.Mutex
	collectors []collector
}

func (r *promRegistry) register(c collector) {
	r.mu.Lock()
	r.collectors = append(r.collectors, c)
	r.mu.Unlock()
}

// WriteTo writes every metric in the text exposition format.
func (r *promRegistry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	cw := &countingWriter{w: w}
	bw := bufio.NewWriter(cw)
	for _, c := range cs {
		c.write(bw)
	}
	err := bw.Flush()
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeHeader(w *bufio.Writer, name, help, typ string) {
	w.WriteString("# HELP ")
	w.WriteString(name)
	w.WriteByte(' ')
	w.WriteString(strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help))
	w.WriteString("\n# TYPE ")
	w.WriteString(name)
	w.WriteByte(' ')
	w.WriteString(typ)
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// labelString renders {a="x",b="y"} plus optional extra pairs (for le).
func labelString(names, values []string, extra ...string) string {
	if len(names) == 0 && len(extra) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteByte('{')
	first := true
	add := func(n, v string) {
		if !first {
			sb.WriteByte(',')
		}
		first = false
		sb.WriteString(n)
		sb.WriteString(`="`)
		sb.WriteString(labelEscaper.Replace(v))
		sb.WriteByte('"')
	}
	for i, n := range names {
		add(n, values[i])
	}
	for i := 0; i+1 < len(extra); i += 2 {
		add(extra[i], extra[i+1])
	}
	sb.WriteByte('}')
	return sb.String()
}

// counterVec is a counter with labels.
type counterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	values     map[string]*labelled[float64]
}

type labelled[T any] struct {
	values []string
	v      T
}

func newCounterVec(name, help string, labels ...string) *counterVec {
	return &counterVec{name: name, help: help, labels: labels, values: map[string]*labelled[float64]{}}
}

func (c *counterVec) add(delta float64, values ...string) {
	key := strings.Join(values, "\xff")
	c.mu.Lock()
	e, ok := c.values[key]
	if !ok {
		e = &labelled[float64]{values: slices.Clone(values)}
		c.values[key] = e
	}
	e.v += delta
	c.mu.Unlock()
}

func (c *counterVec) get(values ...string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.values[strings.Join(values, "\xff")]; ok {
		return e.v
	}
	return 0
}

func (c *counterVec) write(w *bufio.Writer) {
	writeHeader(w, c.name, c.help, "counter")
	c.mu.Lock()
	keys := sortedKeys(c.values)
	for _, k := range keys {
		e := c.values[k]
		w.WriteString(c.name + labelString(c.labels, e.values) + " " + formatFloat(e.v) + "\n")
	}
	c.mu.Unlock()
}

// gaugeFunc reads its value when scraped.
type gaugeFunc struct {
	name, help string
	labels     []string
	// read returns label values and the value for each series.
	read func() []gaugeSample
}

type gaugeSample struct {
	values []string
	v      float64
}

func (g *gaugeFunc) write(w *bufio.Writer) {
	writeHeader(w, g.name, g.help, "gauge")
	for _, s := range g.read() {
		w.WriteString(g.name + labelString(g.labels, s.values) + " " + formatFloat(s.v) + "\n")
	}
}

func newGauge(name, help string, f func() float64) *gaugeFunc {
	return &gaugeFunc{name: name, help: help, read: func() []gaugeSample { return []gaugeSample{{v: f()}} }}
}

// histogramVec is a histogram with labels.
type histogramVec struct {
	name, help string
	labels     []string
	buckets    []float64 // upper bounds, ascending, without +Inf
	mu         sync.Mutex
	series     map[string]*labelled[*histData]
}

type histData struct {
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	count  uint64
}

func newHistogramVec(name, help string, buckets []float64, labels ...string) *histogramVec {
	return &histogramVec{name: name, help: help, labels: labels, buckets: buckets, series: map[string]*labelled[*histData]{}}
}

func (h *histogramVec) observe(v float64, values ...string) {
	key := strings.Join(values, "\xff")
	i, _ := slices.BinarySearch(h.buckets, v) // first bucket with bound >= v
	h.mu.Lock()
	e, ok := h.series[key]
	if !ok {
		e = &labelled[*histData]{values: slices.Clone(values), v: &histData{counts: make([]uint64, len(h.buckets)+1)}}
		h.series[key] = e
	}
	e.v.counts[i]++
	e.v.sum += v
	e.v.count++
	h.mu.Unlock()
}

// snapshot returns count and sum of one series.
func (h *histogramVec) snapshot(values ...string) (count uint64, sum float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.series[strings.Join(values, "\xff")]; ok {
		return e.v.count, e.v.sum
	}
	return 0, 0
}

func (h *histogramVec) write(w *bufio.Writer) {
	writeHeader(w, h.name, h.help, "histogram")
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range sortedKeys(h.series) {
		e := h.series[k]
		var cum uint64
		for i, b := range h.buckets {
			cum += e.v.counts[i]
			w.WriteString(h.name + "_bucket" + labelString(h.labels, e.values, "le", formatFloat(b)) + " " + strconv.FormatUint(cum, 10) + "\n")
		}
		cum += e.v.counts[len(h.buckets)]
		w.WriteString(h.name + "_bucket" + labelString(h.labels, e.values, "le", "+Inf") + " " + strconv.FormatUint(cum, 10) + "\n")
		w.WriteString(h.name + "_sum" + labelString(h.labels, e.values) + " " + formatFloat(e.v.sum) + "\n")
		w.WriteString(h.name + "_count" + labelString(h.labels, e.values) + " " + strconv.FormatUint(e.v.count, 10) + "\n")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// expBuckets returns n bucket bounds start, start*factor, ...
func expBuckets(start, factor float64, n int) []float64 {
	b := make([]float64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}
