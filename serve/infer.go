package serve

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// checkInputs applies the rules every inference route shares: the field
// is there, holds 1 to MaxClientBatch inputs, and no input is empty. An
// empty string is refused on every route (OpenAI's rule, kept for TEI and
// pipeline routes too): it has no tokens but the special ones, and its
// "embedding" or "label" would be an artefact of the model, not of a text.
func (s *Server) checkInputs(in Inputs, field string) error {
	if !in.Set {
		return unprocessable("%q is missing; send {%q: \"some text\"} or a list of texts", field, field).withParam(field)
	}
	if len(in.Texts) == 0 {
		return emptyInput("%q is empty; send at least one text", field).withParam(field)
	}
	if len(in.Texts) > s.cfg.MaxClientBatch {
		return tooLarge("%d inputs is more than the %d allowed per request (--max-client-batch); split the request",
			len(in.Texts), s.cfg.MaxClientBatch).withParam(field)
	}
	for i, t := range in.Texts {
		switch {
		case in.IDs != nil && in.IDs[i] != nil:
			if len(in.IDs[i]) == 0 {
				return emptyInput("input %d is an empty list of token ids; send at least one id", i).withParam(field)
			}
		case t == "":
			return emptyInput("input %d is an empty string; send some text (empty inputs are refused on every route)", i).withParam(field)
		}
	}
	return nil
}

// textsOnly refuses token-id inputs on routes that classify or tokenize
// text.
func textsOnly(in Inputs, field, route string) error {
	if in.HasIDs() {
		return unprocessable("%s takes texts, not token ids; send %q as a string or a list of strings", route, field).withParam(field)
	}
	return nil
}

// embedOptions are a request's truncation settings.
type embedOptions struct {
	// truncate cuts inputs over the model's maximum length; without it they
	// are a 413.
	truncate bool
	// left keeps the end of an over-long input (truncation_direction
	// "left") instead of its start.
	left bool
	// need is what the request's heads need (zero: the base output).
	need Need
}

// truncateOption resolves a request's "truncate": absent means the
// server's --auto-truncate (on unless turned off), as TEI.
func (s *Server) truncateOption(t *bool) bool {
	if t != nil {
		return *t
	}
	return !s.cfg.NoAutoTruncate
}

// truncationDirection parses TEI's "Left" / "Right" (any case; empty is
// right).
func truncationDirection(d string) (left bool, err error) {
	switch strings.ToLower(d) {
	case "", "right":
		return false, nil
	case "left":
		return true, nil
	}
	return false, unprocessable("truncation_direction must be \"Left\" or \"Right\", got %q", d).withParam("truncation_direction")
}

// tokenLimit is the most tokens one input may have: the model's maximum
// length, or --max-batch-tokens for a model that does not say.
func (s *Server) tokenLimit(m *embedderBox) int {
	if m.info.MaxLength > 0 {
		return m.info.MaxLength
	}
	return s.cfg.MaxBatchTokens
}

// embedTexts embeds texts with the request's truncation setting.
func (s *Server) embedTexts(c echo.Context, texts []string, truncate bool) (*embedded, error) {
	return s.embedInputs(c, Inputs{Texts: texts}, embedOptions{truncate: truncate, need: baseOnly})
}

// embedInputs tokenizes the inputs in the request's goroutine (so
// tokenization of concurrent requests runs in parallel), then waits for
// their vectors from the batcher. An input over the model's maximum length
// is cut (and counted) when o.truncate, else it is a 413. Texts go to the
// encoder as texts; when any input is token ids or must lose its start
// (left truncation), all of them go as token ids (the same ids the
// encoder's own tokenization gives), through the TokenEmbedder.
func (s *Server) embedInputs(c echo.Context, in Inputs, o embedOptions) (*embedded, error) {
	if !o.need.Base && !o.need.hasTails() {
		o.need = baseOnly
	}
	m, err := s.model()
	if err != nil {
		return nil, err
	}
	n := len(in.Texts)
	out := &embedded{model: m, tokenCounts: make([]int, n)}
	ticket := s.batcher.Expect() // lets a filling batch wait for these texts
	defer ticket.Cancel()
	t0 := time.Now()
	maxLen := s.tokenLimit(m)
	var ids [][]int64 // set once any input needs the token-id path
	needIDs := in.HasIDs()
	textIDs := make([][]int64, n)
	for i, t := range in.Texts {
		if in.IDs != nil && in.IDs[i] != nil {
			row, err := s.checkIDs(m, in.IDs[i], i, o)
			if err != nil {
				return nil, err
			}
			textIDs[i] = row
			out.tokenCounts[i] = len(row)
			continue
		}
		toks := m.e.Tokenize(t, maxLen)
		if toks.Truncated {
			if !o.truncate {
				// Not tokenized again in full to count: that would cost
				// what the limit is there to bound.
				return nil, tooLarge("input %d has more than %d tokens, the model's maximum; shorten it or send \"truncate\": true",
					i, maxLen)
			}
			s.metrics.truncated.add(1)
			if o.left {
				toks = keepEnd(m.e.Tokenize(t, 0), maxLen)
				needIDs = true
			}
		}
		textIDs[i] = toks.IDs
		out.tokenCounts[i] = len(toks.IDs)
		out.chars += utf8.RuneCountInString(t)
	}
	for _, c := range out.tokenCounts {
		out.tokens += c
	}
	if needIDs {
		if o.need.hasTails() {
			return nil, unprocessable("truncation_direction Left is not available with a head that runs its own encoder layers (a tail); send shorter texts, or truncate from the right")
		}
		if _, ok := m.e.(TokenEmbedder); !ok {
			return nil, unprocessable("this encoder does not take token ids (nor truncate from the left); send texts")
		}
		ids = textIDs
	}
	out.tokenizeTime = time.Since(t0)
	s.metrics.tokenize.observe(out.tokenizeTime.Seconds())

	var res *BatchResult
	if ids != nil {
		res, err = ticket.SubmitIDs(c.Request().Context(), ids, out.tokens)
	} else {
		res, err = ticket.SubmitNeed(c.Request().Context(), in.Texts, out.tokens, o.need)
	}
	if err != nil {
		var we *WaitError
		switch {
		case errors.As(err, &we):
			return nil, contextError(we.Err, s.cfg.RequestTimeout, we.Started)
		case errors.Is(err, ErrQueueFull):
			return nil, overloaded(time.Second, "the batch queue is full; retry after a second")
		case errors.Is(err, ErrBatcherClosed):
			e := newError(503, ErrUnhealthy, "the server is shutting down")
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
		if !o.need.Base {
			break
		}
		if len(v) != m.info.Dim {
			return nil, backendError(nil, "the encoder returned a %d-dimensional vector for input %d, expected %d", len(v), i, m.info.Dim)
		}
	}
	return out, nil
}

// checkIDs validates input i's token ids against the vocabulary and the
// maximum length (cutting them when o.truncate).
func (s *Server) checkIDs(m *embedderBox, row []int64, i int, o embedOptions) ([]int64, error) {
	if v := m.info.VocabSize; v > 0 {
		for j, id := range row {
			if id >= int64(v) {
				return nil, unprocessable("input %d: token id %d is %d, outside the model's vocabulary of %d ids (0 to %d)",
					i, j, id, v, v-1)
			}
		}
	}
	maxLen := m.info.MaxLength
	if maxLen > 0 && len(row) > maxLen {
		if !o.truncate {
			return nil, tooLarge("input %d has %d token ids, over the model's maximum of %d; send fewer or \"truncate\": true",
				i, len(row), maxLen)
		}
		s.metrics.truncated.add(1)
		if o.left {
			return row[len(row)-maxLen:], nil
		}
		return row[:maxLen], nil
	}
	return row, nil
}

// keepEnd cuts a tokenized text to maxLen tokens from the left: the
// special tokens at both ends stay, the start of the text goes.
func keepEnd(t Tokens, maxLen int) Tokens {
	n := len(t.IDs)
	if n <= maxLen {
		return t
	}
	lead := 0
	for lead < n && lead < len(t.Special) && t.Special[lead] {
		lead++
	}
	trail := 0
	for trail < n-lead && n-1-trail < len(t.Special) && t.Special[n-1-trail] {
		trail++
	}
	keep := maxLen - lead - trail
	if keep < 0 {
		return Tokens{IDs: t.IDs[n-maxLen:], Truncated: true}
	}
	ids := make([]int64, 0, maxLen)
	ids = append(ids, t.IDs[:lead]...)
	ids = append(ids, t.IDs[n-trail-keep:n-trail]...)
	ids = append(ids, t.IDs[n-trail:]...)
	return Tokens{IDs: ids, Truncated: true}
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
