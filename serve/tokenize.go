package serve

import (
	"net/http"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// TokenizeRequest is the body of POST /tokenize, as TEI.
type TokenizeRequest struct {
	Inputs Inputs `json:"inputs"`
	// AddSpecialTokens keeps [CLS], [SEP], ... (default true).
	AddSpecialTokens *bool `json:"add_special_tokens,omitempty"`
	// PromptName is not supported, as on /embed: it must be empty.
	PromptName *string `json:"prompt_name,omitempty"`
	// Truncate (an extension) shows the tokens /embed would embed: cut to
	// the model's maximum length, from TruncationDirection. Without it an
	// input over the maximum is a 413, as TEI validates inputs, so one
	// request costs at most --max-client-batch × the maximum in tokens.
	Truncate            *bool  `json:"truncate,omitempty"`
	TruncationDirection string `json:"truncation_direction,omitempty"`
}

// SimpleToken is one token of a /tokenize answer, as TEI: Text is the slice
// of the input the token came from and Start/Stop its byte offsets; for a
// special token Text is the token itself and Start/Stop are null.
type SimpleToken struct {
	ID      int64  `json:"id"`
	Text    string `json:"text"`
	Special bool   `json:"special"`
	Start   *int   `json:"start"`
	Stop    *int   `json:"stop"`
}

// handleTokenize answers [[token, ...], ...], one list per input.
func (s *Server) handleTokenize(c echo.Context) error {
	var req TokenizeRequest
	if err := decodeJSON(c, s.cfg.PayloadLimit, &req); err != nil {
		return err
	}
	if err := s.checkInputs(req.Inputs, "inputs"); err != nil {
		return err
	}
	if err := textsOnly(req.Inputs, "inputs", "/tokenize"); err != nil {
		return err
	}
	if req.PromptName != nil && *req.PromptName != "" {
		return unprocessable("prompt_name is not supported: this model has no prompts; prepend the prompt to the text").withParam("prompt_name")
	}
	left, err := truncationDirection(req.TruncationDirection)
	if err != nil {
		return err
	}
	m, err := s.model()
	if err != nil {
		return err
	}
	truncate := req.Truncate != nil && *req.Truncate
	special := req.AddSpecialTokens == nil || *req.AddSpecialTokens
	out := make([][]SimpleToken, len(req.Inputs.Texts))
	limit := s.tokenLimit(m)
	for i, t := range req.Inputs.Texts {
		toks := m.e.Tokenize(t, limit) // bounded: never the whole of a 2 MB text
		if toks.Truncated {
			if !truncate {
				return tooLarge("input %d has more than %d tokens, the model's maximum; shorten it or send \"truncate\": true", i, limit).withParam("inputs")
			}
			if left {
				toks = m.e.Tokenize(t, 0) // its end is needed; the answer stays bounded below
			}
		}
		spans := alignBounded(t, toks)
		lo, hi := 0, len(toks.IDs)
		if truncate && hi > limit {
			lo, hi = truncatedRange(toks, limit, left)
		}
		list := make([]SimpleToken, 0, hi-lo)
		for j := 0; j < len(toks.IDs); j++ {
			isSpecial := j < len(toks.Special) && toks.Special[j]
			if isSpecial && !special {
				continue
			}
			if !isSpecial && (j < lo || j >= hi) {
				continue
			}
			tok := SimpleToken{ID: toks.IDs[j], Special: isSpecial}
			switch {
			case isSpecial && j < len(toks.Tokens):
				tok.Text = toks.Tokens[j]
			case spans[j].ok:
				start, stop := spans[j].start, spans[j].stop
				tok.Text, tok.Start, tok.Stop = t[start:stop], &start, &stop
			case j < len(toks.Tokens):
				tok.Text = toks.Tokens[j]
			}
			list = append(list, tok)
		}
		out[i] = list
	}
	return c.JSON(http.StatusOK, out)
}

// truncatedRange is the range of content tokens that survive truncation to
// maxLen tokens (special tokens at both ends always stay).
func truncatedRange(t Tokens, maxLen int, left bool) (int, int) {
	n := len(t.IDs)
	lead, trail := 0, 0
	for lead < n && lead < len(t.Special) && t.Special[lead] {
		lead++
	}
	for trail < n-lead && n-1-trail < len(t.Special) && t.Special[n-1-trail] {
		trail++
	}
	keep := max(maxLen-lead-trail, 0)
	if left {
		return n - trail - keep, n - trail
	}
	return lead, lead + keep
}

// alignBounded aligns the tokens of an input in the shortest prefix of
// the text that can hold them (64 bytes a token), so a truncated 2 MB
// input is not folded in full to place 512 tokens; where a token is not
// found in the prefix it aligns over the whole text, which gives the same
// spans when every token is found (find takes the first match).
func alignBounded(text string, toks Tokens) []span {
	budget := 64 * len(toks.IDs)
	if len(text) <= budget {
		return alignTokens(text, toks)
	}
	cut := budget
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	spans := alignTokens(text[:cut], toks)
	for i, sp := range spans {
		special := i < len(toks.Special) && toks.Special[i]
		if !special && !sp.ok && i < len(toks.Tokens) && len(fold(piece(toks.Tokens[i]))) > 0 {
			return alignTokens(text, toks)
		}
	}
	return spans
}
