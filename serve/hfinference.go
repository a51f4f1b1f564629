package serve

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// The Hugging Face Inference routes: POST / (as Text Embeddings Inference
// and Inference Endpoints serve it) and POST /heads/{name}, one endpoint
// URL per head, so InferenceClient(base_url=".../heads/sentiment") and
// @huggingface/inference's endpointUrl work unchanged.

// Tasks the server's root can have.
const (
	TaskTextClassification = "text-classification"
	TaskFeatureExtraction  = "feature-extraction"
)

// InferenceRequest is the body of POST / and POST /heads/{name}: the
// Hugging Face Inference API's {"inputs", "parameters"}, with TEI's
// /embed and /predict fields also read at the top level (huggingface_hub
// sends feature-extraction options there).
type InferenceRequest struct {
	Inputs     Inputs               `json:"inputs"`
	Parameters *InferenceParameters `json:"parameters,omitempty"`

	TopK                TopK    `json:"top_k"`
	FunctionToApply     string  `json:"function_to_apply,omitempty"`
	RawScores           bool    `json:"raw_scores,omitempty"`
	Truncate            *bool   `json:"truncate,omitempty"`
	TruncationDirection string  `json:"truncation_direction,omitempty"`
	Normalize           *bool   `json:"normalize,omitempty"`
	PromptName          *string `json:"prompt_name,omitempty"`
	Dimensions          *int    `json:"dimensions,omitempty"`
	EncodingFormat      string  `json:"encoding_format,omitempty"`
}

// RootTask says what POST / does now: text classification with the
// default head (--default-head, or the only loaded head), else feature
// extraction. head is the default head's name ("" for feature
// extraction).
func (s *Server) RootTask() (task, head string) {
	if s.cfg.DefaultHead != "" {
		return TaskTextClassification, s.cfg.DefaultHead
	}
	if names := s.heads.Names(); len(names) == 1 {
		return TaskTextClassification, names[0]
	}
	return TaskFeatureExtraction, ""
}

// defaultHead is the head of POST / and /predict, or a 424 naming what is
// missing: TEI answers 424 when its model is not a classifier.
func (s *Server) defaultHead() (*LoadedHead, error) {
	snap := s.heads.Snapshot()
	if name := s.cfg.DefaultHead; name != "" {
		if lh, ok := snap[name]; ok {
			return lh, nil
		}
		return nil, backendError(nil, "the default head %q (--default-head) is not loaded; loaded heads: %s",
			name, quoteList(sortedKeys(snap)))
	}
	switch len(snap) {
	case 1:
		for _, lh := range snap {
			return lh, nil
		}
	case 0:
		return nil, backendError(nil, "no heads are loaded, so this server is not a classifier; train one with `bertserve train --out HEADS_DIR/NAME`")
	}
	return nil, backendError(nil, "several heads are loaded and none is the default; start the server with --default-head NAME, or POST to /heads/NAME: one of %s",
		quoteList(sortedKeys(snap)))
}

// handleRoot is POST /: classification or feature extraction, as RootTask
// says.
func (s *Server) handleRoot(c echo.Context) error {
	var req InferenceRequest
	if err := decodeJSON(c, s.cfg.PayloadLimit, &req); err != nil {
		return err
	}
	if _, err := s.model(); err != nil {
		return err
	}
	if task, _ := s.RootTask(); task == TaskFeatureExtraction {
		return s.featureExtraction(c, req)
	}
	lh, err := s.defaultHead()
	if err != nil {
		return err
	}
	return s.textClassification(c, req, lh)
}

// handleHeadEndpoint is POST /heads/{name}: text classification with that
// head.
func (s *Server) handleHeadEndpoint(c echo.Context) error {
	name, err := s.headParam(c)
	if err != nil {
		return err
	}
	var req InferenceRequest
	if err := decodeJSON(c, s.cfg.PayloadLimit, &req); err != nil {
		return err
	}
	lh, ok := s.heads.Get(name)
	if !ok {
		return notFound("unknown head %q; loaded heads: %s", name, quoteList(s.heads.Names()))
	}
	return s.textClassification(c, req, lh)
}

// textClassification answers the Inference API's shape: a list of
// {"label","score"} per input, best first, all labels unless top_k ([[...]]
// for one text too: the Hugging Face clients read the first element).
func (s *Server) textClassification(c echo.Context, req InferenceRequest, lh *LoadedHead) error {
	if err := s.checkInputs(req.Inputs, "inputs"); err != nil {
		return err
	}
	if err := textsOnly(req.Inputs, "inputs", "text classification"); err != nil {
		return err
	}
	req.Parameters.merge(&req.TopK, &req.FunctionToApply, &req.Truncate, &req.TruncationDirection)
	if req.RawScores && req.FunctionToApply == "" {
		req.FunctionToApply = string(fnNone)
	}
	o, err := s.classifyOptions(req.TopK, req.FunctionToApply, req.Truncate, req.TruncationDirection, 0)
	if err != nil {
		return err
	}
	rows, em, err := s.classify(c, req.Inputs.Texts, []*LoadedHead{lh}, o)
	if err != nil {
		return err
	}
	setTimingHeaders(c, em)
	return c.JSON(http.StatusOK, rows[lh.Name])
}

// featureExtraction is /embed under the Inference API's request shape.
func (s *Server) featureExtraction(c echo.Context, req InferenceRequest) error {
	if p := req.Parameters; p != nil {
		if req.Normalize == nil {
			req.Normalize = p.Normalize
		}
		if req.Truncate == nil {
			req.Truncate = p.Truncate
		}
		if req.TruncationDirection == "" {
			req.TruncationDirection = p.TruncationDirection
		}
		if req.PromptName == nil {
			req.PromptName = p.PromptName
		}
		if req.Dimensions == nil {
			req.Dimensions = p.Dimensions
		}
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" {
		return unprocessable("encoding_format %q is not supported on POST /; it answers floats (base64 is on /v1/embeddings)", req.EncodingFormat).withParam("encoding_format")
	}
	vecs, em, err := s.embedRequest(c, EmbedRequest{Inputs: req.Inputs, Normalize: req.Normalize, Truncate: req.Truncate,
		TruncationDirection: req.TruncationDirection, PromptName: req.PromptName, Dimensions: req.Dimensions})
	if err != nil {
		return err
	}
	setTimingHeaders(c, em)
	return c.JSON(http.StatusOK, vecs)
}
