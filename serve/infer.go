package serve

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// embedded is the outcome of embedTexts for one request.
type embedded struct {
	model        *embedderBox
	vectors      [][]float32
	tails        []map[string][]float32
	tokenCounts  []int
	tokens       int
	chars        int
	tokenizeTime time.Duration
	queueTime    time.Duration
	inferTime    time.Duration
}

// checkInputs applies the rules every inference route shares.
func (s *Server) checkInputs(in Inputs, field string) error {
	if !in.Set {
		return badRequest("%q is missing; send {%q: \"some text\"} or a list of texts", field, field)
	}
	if len(in.Texts) == 0 {
		return badRequest("%q is empty; send at least one text", field)
	}
	if len(in.Texts) > s.cfg.MaxClientBatch {
		return tooLarge("%d inputs is more than the %d allowed per request (--max-client-batch); split the request",
			len(in.Texts), s.cfg.MaxClientBatch)
	}
	return nil
}

// embedTexts tokenizes texts in the request's goroutine (so tokenization of
// concurrent requests runs in parallel), then waits for their vectors from
// the batcher. Without truncate, an input over the model's maximum length
// is a 413.
func (s *Server) embedTexts(c echo.Context, texts []string, truncate bool) (*embedded, error) {
	return s.embedFor(c, texts, truncate, baseOnly)
}

// embedFor is embedTexts for a request that may need tail outputs.
func (s *Server) embedFor(c echo.Context, texts []string, truncate bool, need Need) (*embedded, error) {
	m, err := s.model()
	if err != nil {
		return nil, err
	}
	out := &embedded{model: m, tokenCounts: make([]int, len(texts))}
	ticket := s.batcher.Expect() // lets a filling batch wait for these texts
	defer ticket.Cancel()
	t0 := time.Now()
	for i, t := range texts {
		toks := m.e.Tokenize(t, m.info.MaxLength)
		if toks.Truncated && !truncate {
			full := len(m.e.Tokenize(t, 0).IDs)
			return nil, tooLarge("input %d has %d tokens, over the model's maximum of %d; shorten it or send \"truncate\": true",
				i, full, m.info.MaxLength)
		}
		out.tokenCounts[i] = len(toks.IDs)
		out.tokens += len(toks.IDs)
		out.chars += len(t)
	}
	out.tokenizeTime = time.Since(t0)
	s.metrics.tokenize.observe(out.tokenizeTime.Seconds())

	res, err := ticket.SubmitNeed(c.Request().Context(), texts, out.tokens, need)
	if err != nil {
		var we *WaitError
		switch {
		case errors.As(err, &we):
			return nil, contextError(we.Err, s.cfg.RequestTimeout, we.Started)
		case errors.Is(err, ErrQueueFull):
			return nil, overloaded(time.Second, "the batch queue is full; retry after a second")
		case errors.Is(err, ErrBatcherClosed):
			e := newError(503, ErrBackend, "the server is shutting down")
			e.Err = err
			return nil, e
		default:
			var apiErr *Error
			if errors.As(err, &apiErr) {
				return nil, apiErr
			}
			return nil, backendError(err, "the encoder failed: %v", err)
		}
	}
	s.metrics.queue.observe(res.QueueTime.Seconds())
	out.vectors = res.Vectors
	out.tails = res.Tails
	if res.TokenCounts != nil {
		copy(out.tokenCounts, res.TokenCounts)
		out.tokens = 0
		for _, n := range res.TokenCounts {
			out.tokens += n
		}
	}
	out.queueTime = res.QueueTime
	out.inferTime = res.InferenceTime
	out.tokenizeTime += res.TokenizeTime
	for i, v := range out.vectors {
		if !need.Base {
			break
		}
		if len(v) != m.info.Dim {
			return nil, backendError(nil, "the encoder returned a %d-dimensional vector for input %d, expected %d", len(v), i, m.info.Dim)
		}
	}
	return out, nil
}

// setTimingHeaders writes the Text Embeddings Inference response headers.
// Times are whole milliseconds, as TEI sends them.
func setTimingHeaders(c echo.Context, em *embedded) {
	h := c.Response().Header()
	total := time.Since(requestStart(c))
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	h.Set("x-compute-type", em.model.info.Device)
	h.Set("x-compute-time", ms(total))
	h.Set("x-total-time", ms(total))
	h.Set("x-compute-characters", strconv.Itoa(em.chars))
	h.Set("x-compute-tokens", strconv.Itoa(em.tokens))
	h.Set("x-tokenization-time", ms(em.tokenizeTime))
	h.Set("x-queue-time", ms(em.queueTime))
	h.Set("x-inference-time", ms(em.inferTime))
}

// l2normalized returns unit-length copies of vs (a zero vector stays zero).
func l2normalized(vs [][]float32) [][]float32 {
	out := make([][]float32, len(vs))
	for i, v := range vs {
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		w := make([]float32, len(v))
		if ss > 0 {
			inv := 1 / math.Sqrt(ss)
			for j, x := range v {
				w[j] = float32(float64(x) * inv)
			}
		}
		out[i] = w
	}
	return out
}
