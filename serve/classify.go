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

// ClassifyRequest is the body of POST /v1/classify: a transformers
// text-classification pipeline call over HTTP.
type ClassifyRequest struct {
	// Inputs is one text or a list of texts.
	Inputs Inputs `json:"inputs"`
	// Head names one head; Heads names several (the response is then an
	// object keyed by head). With neither, the default head is used
	// (--default-head, or the only loaded head).
	Head  string   `json:"head,omitempty"`
	Heads []string `json:"heads,omitempty"`
	// TopK is the number of labels per input, best first. Absent: the
	// pipeline's legacy answer, one {"label","score"} per input; a number:
	// that many per input (a list per input); null or 0: all of them.
	TopK TopK `json:"top_k"`
	// FunctionToApply is "softmax" (default), "sigmoid" or "none" (raw
	// scores), as the pipeline's function_to_apply.
	FunctionToApply string `json:"function_to_apply,omitempty"`
	// Truncate cuts over-long inputs to the model's maximum length
	// (default --auto-truncate, on; false makes them a 413).
	Truncate            *bool  `json:"truncate,omitempty"`
	TruncationDirection string `json:"truncation_direction,omitempty"`
	// Parameters is the Hugging Face Inference API's form of the same
	// options ({"inputs": ..., "parameters": {"top_k": 2}}); a field given
	// at the top level wins.
	Parameters *InferenceParameters `json:"parameters,omitempty"`
}

// InferenceParameters is the "parameters" object of a Hugging Face
// Inference API request. Text classification reads TopK and
// FunctionToApply; feature extraction reads the rest.
type InferenceParameters struct {
	TopK                TopK    `json:"top_k"`
	FunctionToApply     string  `json:"function_to_apply,omitempty"`
	Truncate            *bool   `json:"truncate,omitempty"`
	TruncationDirection string  `json:"truncation_direction,omitempty"`
	Normalize           *bool   `json:"normalize,omitempty"`
	PromptName          *string `json:"prompt_name,omitempty"`
	Dimensions          *int    `json:"dimensions,omitempty"`
}

// merge fills the options a request left out at the top level from its
// parameters object.
func (p *InferenceParameters) merge(topK *TopK, fn *string, truncate **bool, direction *string) {
	if p == nil {
		return
	}
	if !topK.set {
		*topK = p.TopK
	}
	if *fn == "" {
		*fn = p.FunctionToApply
	}
	if *truncate == nil {
		*truncate = p.Truncate
	}
	if *direction == "" {
		*direction = p.TruncationDirection
	}
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
	if err := textsOnly(req.Inputs, "inputs", "/v1/classify"); err != nil {
		return err
	}
	req.Parameters.merge(&req.TopK, &req.FunctionToApply, &req.Truncate, &req.TruncationDirection)
	heads, keyed, err := s.resolveHeads(req.Head, req.Heads)
	if err != nil {
		return err
	}
	o, err := s.classifyOptions(req.TopK, req.FunctionToApply, req.Truncate, req.TruncationDirection, 1)
	if err != nil {
		return err
	}
	rows, em, err := s.classify(c, req.Inputs.Texts, heads, o)
	if err != nil {
		return err
	}
	results := make(map[string]any, len(heads))
	for _, lh := range heads {
		results[lh.Name] = pipelineShape(rows[lh.Name], req.Inputs.Single, req.TopK.set)
	}
	setTimingHeaders(c, em)
	if keyed {
		return c.JSON(http.StatusOK, results)
	}
	return c.JSON(http.StatusOK, results[heads[0].Name])
}

// pipelineShape arranges ranked rows as the transformers pipeline returns
// them: without top_k one {"label","score"} per input ([{...}] for one
// text, [{...}, {...}] for a list); with top_k a list per input (the list
// itself for one text).
func pipelineShape(rows [][]LabelScore, single, topKSet bool) any {
	if single {
		return rows[0]
	}
	if !topKSet {
		flat := make([]LabelScore, len(rows))
		for i, r := range rows {
			flat[i] = r[0]
		}
		return flat
	}
	return rows
}

// classifyOpts are the options of one classification.
type classifyOpts struct {
	k    int // labels per input; 0: all
	fn   scoreFunction
	embd embedOptions
}

// classifyOptions resolves top_k (absentK when absent), function_to_apply
// and truncation.
func (s *Server) classifyOptions(topK TopK, fn string, truncate *bool, direction string, absentK int) (classifyOpts, error) {
	o := classifyOpts{k: absentK}
	if topK.set {
		o.k = topK.k
	}
	f, err := parseScoreFunction(fn)
	if err != nil {
		return o, err
	}
	o.fn = f
	left, err := truncationDirection(direction)
	if err != nil {
		return o, err
	}
	o.embd = embedOptions{truncate: s.truncateOption(truncate), left: left}
	return o, nil
}

// classify embeds texts once and ranks every head's scores, keyed by head.
func (s *Server) classify(c echo.Context, texts []string, heads []*LoadedHead, o classifyOpts) (map[string][][]LabelScore, *embedded, error) {
	o.embd.need = needOf(heads)
	em, err := s.embedInputs(c, Inputs{Texts: texts}, o.embd)
	if err != nil {
		return nil, nil, err
	}
	var normalized [][]float32 // computed once, shared by heads that want it
	out := make(map[string][][]LabelScore, len(heads))
	for _, lh := range heads {
		x := em.vectors
		if key := tailOf(lh.Head); key != "" {
			// The head's own tail output, pooled (and normalised) by it.
			if x, err = tailVectors(em, key, lh.Name); err != nil {
				return nil, nil, err
			}
		} else if lh.Info.Normalize && !em.model.info.Normalized {
			if normalized == nil {
				normalized = l2normalized(em.vectors)
			}
			x = normalized
		}
		rows, err := predict(lh, x, o.k, o.fn)
		if err != nil {
			return nil, nil, err
		}
		out[lh.Name] = rows
	}
	return out, em, nil
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
		switch {
		case s.cfg.DefaultHead != "":
			names = []string{s.cfg.DefaultHead}
		case len(snap) > 1:
			return nil, false, badRequest("several heads are loaded; name one with \"head\": one of %s (or start the server with --default-head)",
				quoteList(sortedKeys(snap)))
		default:
			for name := range snap {
				names = []string{name}
			}
		}
	}
	out := make([]*LoadedHead, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		lh, ok := snap[n]
		if !ok {
			return nil, false, notFound("unknown head %q; loaded heads: %s", n, quoteList(sortedKeys(snap))).withParam("head")
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, lh)
		}
	}
	return out, keyed, nil
}

// TopK is the top_k field of a classify request. The zero value (the
// field absent) lets the route decide (one label on /v1/classify, all on
// the Hugging Face Inference routes); null and 0 mean all labels, as
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

// scoreFunction is the pipeline's function_to_apply.
type scoreFunction string

const (
	fnSoftmax scoreFunction = "softmax"
	fnSigmoid scoreFunction = "sigmoid"
	fnNone    scoreFunction = "none"
)

func parseScoreFunction(s string) (scoreFunction, error) {
	switch f := scoreFunction(strings.ToLower(s)); f {
	case "", fnSoftmax:
		return fnSoftmax, nil
	case fnSigmoid, fnNone:
		return f, nil
	}
	return "", unprocessable("function_to_apply must be \"softmax\", \"sigmoid\" or \"none\", got %q", s).withParam("function_to_apply")
}

// headScores runs one head: probabilities for softmax, its logits for
// none, their sigmoid for sigmoid. Every row is checked.
func headScores(lh *LoadedHead, x [][]float32, fn scoreFunction) ([][]float64, error) {
	if len(x) > 0 && len(x[0]) != lh.Head.Dim() {
		return nil, backendError(nil, "head %q expects %d-dimensional embeddings but the model gives %d; retrain it on this model",
			lh.Name, lh.Head.Dim(), len(x[0]))
	}
	var scores [][]float64
	var err error
	switch lg, ok := lh.Head.(LogitHead); {
	case fn == fnSoftmax:
		scores, err = lh.Head.PredictProba(x)
	case ok:
		scores, err = lg.PredictLogits(x)
	default:
		// Log-probabilities: the logits up to a constant per input.
		scores, err = lh.Head.PredictProba(x)
		for _, row := range scores {
			for j, p := range row {
				row[j] = math.Log(max(p, math.SmallestNonzeroFloat64))
			}
		}
	}
	if err != nil {
		return nil, backendError(err, "head %q failed: %v", lh.Name, err)
	}
	if len(scores) != len(x) {
		return nil, backendError(nil, "head %q returned %d rows for %d inputs", lh.Name, len(scores), len(x))
	}
	for i, row := range scores {
		if len(row) != len(lh.Labels) {
			return nil, backendError(nil, "head %q returned %d scores for %d labels", lh.Name, len(row), len(lh.Labels))
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, backendError(nil, "head %q returned a non-finite score for input %d", lh.Name, i)
			}
			if fn == fnSigmoid {
				row[j] = 1 / (1 + math.Exp(-v))
			}
		}
	}
	return scores, nil
}

// predict runs one head and turns its scores into sorted label scores.
func predict(lh *LoadedHead, x [][]float32, topK int, fn scoreFunction) ([][]LabelScore, error) {
	scores, err := headScores(lh, x, fn)
	if err != nil {
		return nil, err
	}
	out := make([][]LabelScore, len(scores))
	for i, p := range scores {
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
