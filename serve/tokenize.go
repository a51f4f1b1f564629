package serve

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// TokenizeRequest is the body of POST /tokenize, as TEI.
type TokenizeRequest struct {
	Inputs Inputs `json:"inputs"`
	// AddSpecialTokens keeps [CLS], [SEP], ... (default true).
	AddSpecialTokens *bool `json:"add_special_tokens,omitempty"`
	// PromptName is not supported, as on /embed: it must be empty.
	PromptName *string `json:"prompt_name,omitempty"`
	// Truncate (an extension; TEI's /tokenize never truncates, and neither
	// does this one by default) shows the tokens /embed would embed:
	// cut to the model's maximum length, from TruncationDirection.
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
	for i, t := range req.Inputs.Texts {
		toks := m.e.Tokenize(t, 0)
		spans := alignTokens(t, toks)
		lo, hi := 0, len(toks.IDs)
		if truncate && hi > m.info.MaxLength {
			lo, hi = truncatedRange(toks, m.info.MaxLength, left)
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
