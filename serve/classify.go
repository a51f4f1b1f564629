package serve

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// ClassifyRequest is the body of POST /v1/classify.
type ClassifyRequest struct {
	// Inputs is one text or a list of texts.
	Inputs Inputs `json:"inputs"`
	// Head names one head; Heads names several (the response is then an
	// object keyed by head). With neither, the only loaded head is used.
	Head  string   `json:"head,omitempty"`
	Heads []string `json:"heads,omitempty"`
	// TopK is the number of labels per input, best first: absent means 1,
	// null or 0 all labels (as a Hugging Face pipeline's top_k=None), more
	// than the head has all of them.
	TopK TopK `json:"top_k"`
	// Truncate cuts over-long inputs to the model's maximum length
	// (default true; false makes them a 413).
	Truncate *bool `json:"truncate,omitempty"`
}

// LabelScore is one entry of a Hugging Face text-classification pipeline
// answer.
type LabelScore struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// handleClassify embeds the inputs once and runs every requested head on
// the same vectors. The heads are taken from one registry snapshot, so a
// head swapped in meanwhile never mixes into this response.
func (s *Server) handleClassify(c echo.Context) error {
	var req ClassifyRequest
	if err := decodeJSON(c, s.cfg.PayloadLimit, &req); err != nil {
		return err
	}
	if err := s.checkInputs(req.Inputs, "inputs"); err != nil {
		return err
	}
	topK := req.TopK.K()
	heads, keyed, err := s.resolveHeads(req.Head, req.Heads)
	if err != nil {
		return err
	}
	truncate := req.Truncate == nil || *req.Truncate

	em, err := s.embedFor(c, req.Inputs.Texts, truncate, needOf(heads))
	if err != nil {
		return err
	}
	var normalized [][]float32 // computed once, shared by heads that want it
	results := make(map[string]any, len(heads))
	for _, lh := range heads {
		x := em.vectors
		if key := tailOf(lh.Head); key != "" {
			// The head's own tail output, pooled (and normalised) by it.
			if x, err = tailVectors(em, key, lh.Name); err != nil {
				return err
			}
		} else if lh.Info.Normalize && !em.model.info.Normalized {
			if normalized == nil {
				normalized = l2normalized(em.vectors)
			}
			x = normalized
		}
		rows, err := predict(lh, x, topK)
		if err != nil {
			return err
		}
		if req.Inputs.Single {
			results[lh.Name] = rows[0]
		} else {
			results[lh.Name] = rows
		}
	}
	setTimingHeaders(c, em)
	if keyed {
		return c.JSON(http.StatusOK, results)
	}
	return c.JSON(http.StatusOK, results[heads[0].Name])
}

// tailVectors picks tail key's output for every text of a request.
func tailVectors(em *embedded, key, head string) ([][]float32, error) {
	if len(em.tails) != len(em.vectors) {
		return nil, backendError(nil, "the encoder returned no output of head %q's tail", head)
	}
	x := make([][]float32, len(em.tails))
	for i, t := range em.tails {
		if x[i] = t[key]; x[i] == nil {
			return nil, backendError(nil, "the encoder returned no output of head %q's tail for input %d", head, i)
		}
	}
	return x, nil
}

// resolveHeads picks the heads a request names from one snapshot. keyed
// is true when the answer must be an object keyed by head name.
func (s *Server) resolveHeads(one string, many []string) ([]*LoadedHead, bool, error) {
	snap := s.heads.Snapshot()
	if one != "" && len(many) > 0 {
		return nil, false, badRequest("send either \"head\" or \"heads\", not both")
	}
	if len(snap) == 0 {
		return nil, false, notFound("no heads are loaded; train one with `bertserve train --out HEADS_DIR/NAME` or POST /v1/heads/NAME/train")
	}
	names := many
	keyed := len(many) > 0
	if one != "" {
		names = []string{one}
	}
	if len(names) == 0 {
		if len(snap) > 1 {
			return nil, false, badRequest("several heads are loaded; name one with \"head\": one of %s", quoteList(sortedKeys(snap)))
		}
		for name := range snap {
			names = []string{name}
		}
	}
	out := make([]*LoadedHead, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		lh, ok := snap[n]
		if !ok {
			return nil, false, notFound("unknown head %q; loaded heads: %s", n, quoteList(sortedKeys(snap)))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, lh)
		}
	}
	return out, keyed, nil
}

// TopK is the top_k field of a classify request. The zero value (the
// field absent) means one label; null and 0 mean all labels, as
// predict --top-k 0 does; a negative number is refused when decoding.
type TopK struct {
	set bool
	k   int // 0: all
}

// K returns the number of labels to keep for RankLabels: 0 means all.
func (t TopK) K() int {
	if !t.set {
		return 1
	}
	return t.k
}

// UnmarshalJSON implements json.Unmarshaler; it is called for null too.
func (t *TopK) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*t = TopK{set: true}
		return nil
	}
	var k int
	if err := json.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("top_k must be a whole number or null (all labels), got %s", clip(string(b)))
	}
	if k < 0 {
		return fmt.Errorf("top_k must be at least 0 (0 or null: all labels), got %d", k)
	}
	*t = TopK{set: true, k: k}
	return nil
}

// predict runs one head and turns probabilities into sorted label scores.
func predict(lh *LoadedHead, x [][]float32, topK int) ([][]LabelScore, error) {
	if len(x) > 0 && len(x[0]) != lh.Head.Dim() {
		return nil, backendError(nil, "head %q expects %d-dimensional embeddings but the model gives %d; retrain it on this model",
			lh.Name, lh.Head.Dim(), len(x[0]))
	}
	probs, err := lh.Head.PredictProba(x)
	if err != nil {
		return nil, backendError(err, "head %q failed: %v", lh.Name, err)
	}
	if len(probs) != len(x) {
		return nil, backendError(nil, "head %q returned %d rows for %d inputs", lh.Name, len(probs), len(x))
	}
	out := make([][]LabelScore, len(probs))
	for i, p := range probs {
		if len(p) != len(lh.Labels) {
			return nil, backendError(nil, "head %q returned %d scores for %d labels", lh.Name, len(p), len(lh.Labels))
		}
		for _, v := range p {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, backendError(nil, "head %q returned a non-finite score for input %d", lh.Name, i)
			}
		}
		out[i] = RankLabels(lh.Labels, p, topK)
	}
	return out, nil
}

// RankLabels pairs labels with their probabilities, best first (ties keep
// the label order), keeping the top k (all when k <= 0): one row of a
// Hugging Face pipeline result.
func RankLabels(labels []string, probs []float64, k int) []LabelScore {
	row := make([]LabelScore, len(labels))
	for j, l := range labels {
		row[j] = LabelScore{Label: l, Score: probs[j]}
	}
	slices.SortStableFunc(row, func(a, b LabelScore) int { return cmp.Compare(b.Score, a.Score) })
	if k > 0 && k < len(row) {
		row = row[:k:k]
	}
	return row
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
