package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// PredictRequest is the body of TEI's POST /predict, answered by the
// default head (--default-head, or the only loaded head).
type PredictRequest struct {
	Inputs PredictInputs `json:"inputs"`
	// RawScores answers the head's logits instead of probabilities.
	RawScores bool `json:"raw_scores,omitempty"`
	// Truncate: absent means --auto-truncate (on by default).
	Truncate            *bool  `json:"truncate,omitempty"`
	TruncationDirection string `json:"truncation_direction,omitempty"`
}

// PredictInputs is TEI's PredictInput: a text, a sentence pair [a, b], or a
// batch of [text] and [a, b] lists (a list of strings of another length is
// read as a batch of texts, as TEI's server does).
type PredictInputs struct {
	// Seqs[i] is input i: one text, or two for a pair.
	Seqs   [][]string
	Single bool
	Set    bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *PredictInputs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch kindOf(b) {
	case "null":
		*p = PredictInputs{}
		return nil
	case "a string":
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = PredictInputs{Seqs: [][]string{{s}}, Single: true, Set: true}
		return nil
	case "a list":
	default:
		return fmt.Errorf("inputs must be a string, a pair of strings or a list of [text] / [text, text] lists, got %s", kindOf(b))
	}
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	allStrings := true
	for _, raw := range list {
		allStrings = allStrings && kindOf(raw) == "a string"
	}
	if allStrings && len(list) == 2 {
		var pair []string
		if err := json.Unmarshal(b, &pair); err != nil {
			return err
		}
		*p = PredictInputs{Seqs: [][]string{pair}, Single: true, Set: true}
		return nil
	}
	out := PredictInputs{Seqs: make([][]string, len(list)), Set: true}
	for i, raw := range list {
		switch kindOf(raw) {
		case "a string":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			out.Seqs[i] = []string{s}
		case "a list":
			var seq []json.RawMessage
			if err := json.Unmarshal(raw, &seq); err != nil {
				return err
			}
			if len(seq) != 1 && len(seq) != 2 {
				return fmt.Errorf("input %d (counting from 0) must be [text] or a pair [text, text], got a list of %d", i, len(seq))
			}
			for j, r := range seq {
				if kindOf(r) != "a string" {
					return fmt.Errorf("input %d (counting from 0), item %d must be a string, got %s", i, j, kindOf(r))
				}
				var s string
				if err := json.Unmarshal(r, &s); err != nil {
					return err
				}
				out.Seqs[i] = append(out.Seqs[i], s)
			}
		default:
			return fmt.Errorf("input %d (counting from 0) must be a string, [text] or [text, text], got %s", i, kindOf(raw))
		}
	}
	*p = out
	return nil
}

// handlePredict answers TEI's PredictResponse: every label, best first,
// for one input ([{...}, ...]); a list of those for a batch.
func (s *Server) handlePredict(c echo.Context) error {
	var req PredictRequest
	if err := decodeJSON(c, s.cfg.PayloadLimit, &req); err != nil {
		return err
	}
	if !req.Inputs.Set {
		return unprocessable("\"inputs\" is missing; send {\"inputs\": \"some text\"}").withParam("inputs")
	}
	if _, err := s.model(); err != nil {
		return err
	}
	lh, err := s.defaultHead()
	if err != nil {
		return err
	}
	texts := make([]string, len(req.Inputs.Seqs))
	for i, seq := range req.Inputs.Seqs {
		if len(seq) == 2 {
			return unprocessable("input %d is a sentence pair, but head %q classifies single texts (its embeddings are of one text); send texts, or use a cross-encoder model for pairs",
				i, lh.Name).withParam("inputs")
		}
		texts[i] = seq[0]
	}
	in := Inputs{Texts: texts, Single: req.Inputs.Single, Set: true}
	if err := s.checkInputs(in, "inputs"); err != nil {
		return err
	}
	fn := fnSoftmax
	if req.RawScores {
		fn = fnNone
	}
	left, err := truncationDirection(req.TruncationDirection)
	if err != nil {
		return err
	}
	o := classifyOpts{fn: fn, embd: embedOptions{truncate: s.truncateOption(req.Truncate), left: left}}
	rows, em, err := s.classify(c, texts, []*LoadedHead{lh}, o)
	if err != nil {
		return err
	}
	setTimingHeaders(c, em)
	if in.Single {
		return c.JSON(http.StatusOK, rows[lh.Name][0])
	}
	return c.JSON(http.StatusOK, rows[lh.Name])
}
