package serve

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"

	"github.com/labstack/echo/v4"
)

// EmbedRequest is the body of POST /embed, as Text Embeddings Inference.
type EmbedRequest struct {
	// Inputs is a text, token ids, or a list of either.
	Inputs Inputs `json:"inputs"`
	// Normalize L2-normalises the vectors (default true, as TEI).
	Normalize *bool `json:"normalize,omitempty"`
	// Truncate cuts over-long inputs; absent means the server's
	// --auto-truncate (on by default, as TEI); false makes them a 413.
	Truncate *bool `json:"truncate,omitempty"`
	// TruncationDirection is "Right" (default: keep the start) or "Left"
	// (keep the end).
	TruncationDirection string `json:"truncation_direction,omitempty"`
	// PromptName is not supported; it must be empty.
	PromptName *string `json:"prompt_name,omitempty"`
	// Dimensions keeps the first Dimensions values of each vector
	// (Matryoshka), renormalised when Normalize: 1 to the model's size.
	Dimensions *int `json:"dimensions,omitempty"`
}

// embedParams are the options /embed, POST / and /v1/embeddings share.
type embedParams struct {
	opts       embedOptions
	normalize  bool
	dimensions int // 0: the model's own
}

// parseEmbedParams checks the shared options against the model.
func (s *Server) parseEmbedParams(m *embedderBox, truncate *bool, direction string, promptName *string, dims *int, normalize *bool) (embedParams, error) {
	p := embedParams{opts: embedOptions{truncate: s.truncateOption(truncate)}, normalize: normalize == nil || *normalize}
	left, err := truncationDirection(direction)
	if err != nil {
		return p, err
	}
	p.opts.left = left
	if promptName != nil && *promptName != "" {
		return p, unprocessable("prompt_name is not supported: this model has no prompts; prepend the prompt to the text").withParam("prompt_name")
	}
	if dims != nil {
		if *dims < 1 || *dims > m.info.Dim {
			return p, unprocessable("dimensions must be between 1 and the model's %d, got %d", m.info.Dim, *dims).withParam("dimensions")
		}
		if *dims < m.info.Dim {
			p.dimensions = *dims
		}
	}
	return p, nil
}

// finish applies dimensions and normalisation to the encoder's vectors:
// cut first, then renormalise, as TEI does.
func (p embedParams) finish(em *embedded) [][]float32 {
	vecs := em.vectors
	if p.dimensions > 0 {
		cut := make([][]float32, len(vecs))
		for i, v := range vecs {
			cut[i] = v[:p.dimensions:p.dimensions]
		}
		vecs = cut
	}
	if p.normalize && (!em.model.info.Normalized || p.dimensions > 0) {
		vecs = l2normalized(vecs)
	}
	return vecs
}

// handleEmbed answers [[float, ...], ...], one vector per input, also for a
// single input (as TEI).
func (s *Server) handleEmbed(c echo.Context) error {
	var req EmbedRequest
	if err := decodeJSON(c, s.cfg.PayloadLimit, &req); err != nil {
		return err
	}
	vecs, em, err := s.embedRequest(c, req)
	if err != nil {
		return err
	}
	setTimingHeaders(c, em)
	return c.JSON(http.StatusOK, vecs)
}

// embedRequest runs an EmbedRequest (from /embed, or POST / in feature
// extraction).
func (s *Server) embedRequest(c echo.Context, req EmbedRequest) ([][]float32, *embedded, error) {
	if err := s.checkInputs(req.Inputs, "inputs"); err != nil {
		return nil, nil, err
	}
	m, err := s.model()
	if err != nil {
		return nil, nil, err
	}
	p, err := s.parseEmbedParams(m, req.Truncate, req.TruncationDirection, req.PromptName, req.Dimensions, req.Normalize)
	if err != nil {
		return nil, nil, err
	}
	em, err := s.embedInputs(c, req.Inputs, p.opts)
	if err != nil {
		return nil, nil, err
	}
	return p.finish(em), em, nil
}

// OpenAIEmbeddingsRequest is the body of POST /v1/embeddings, as OpenAI.
type OpenAIEmbeddingsRequest struct {
	// Input is a text, token ids, or a list of either.
	Input Inputs `json:"input"`
	// Model is echoed back; any value is accepted, there is one model.
	Model string `json:"model,omitempty"`
	// EncodingFormat is "float" (default) or "base64" (little-endian
	// float32, as the OpenAI clients decode it).
	EncodingFormat string `json:"encoding_format,omitempty"`
	// Dimensions keeps the first Dimensions values of each vector,
	// renormalised (1 to the model's size).
	Dimensions *int   `json:"dimensions,omitempty"`
	User       string `json:"user,omitempty"`
	// Truncate and TruncationDirection are TEI's extensions: absent means
	// --auto-truncate (on by default).
	Truncate            *bool  `json:"truncate,omitempty"`
	TruncationDirection string `json:"truncation_direction,omitempty"`
}

// OpenAIEmbeddingsResponse is the answer of POST /v1/embeddings.
type OpenAIEmbeddingsResponse struct {
	Object string            `json:"object"`
	Data   []OpenAIEmbedding `json:"data"`
	Model  string            `json:"model"`
	Usage  OpenAIUsage       `json:"usage"`
}

// OpenAIEmbedding is one vector; Embedding is []float32 or a base64 string.
type OpenAIEmbedding struct {
	Object    string `json:"object"`
	Embedding any    `json:"embedding"`
	Index     int    `json:"index"`
}

// OpenAIUsage counts the tokens embedded.
type OpenAIUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

func (s *Server) handleOpenAIEmbeddings(c echo.Context) error {
	var req OpenAIEmbeddingsRequest
	if err := decodeJSON(c, s.cfg.PayloadLimit, &req); err != nil {
		return err
	}
	if err := s.checkInputs(req.Input, "input"); err != nil {
		return err
	}
	format := req.EncodingFormat
	if format == "" {
		format = "float"
	}
	if format != "float" && format != "base64" {
		return badRequest("encoding_format must be \"float\" or \"base64\", got %q", req.EncodingFormat).withParam("encoding_format")
	}
	m, err := s.model()
	if err != nil {
		return err
	}
	p, err := s.parseEmbedParams(m, req.Truncate, req.TruncationDirection, nil, req.Dimensions, nil)
	if err != nil {
		return err
	}
	em, err := s.embedInputs(c, req.Input, p.opts)
	if err != nil {
		return err
	}
	vecs := p.finish(em)
	resp := OpenAIEmbeddingsResponse{Object: "list", Data: make([]OpenAIEmbedding, len(vecs)),
		Model: req.Model, Usage: OpenAIUsage{PromptTokens: em.tokens, TotalTokens: em.tokens}}
	if resp.Model == "" {
		resp.Model = em.model.info.Name
	}
	for i, v := range vecs {
		var emb any = v
		if format == "base64" {
			emb = float32Base64(v)
		}
		resp.Data[i] = OpenAIEmbedding{Object: "embedding", Embedding: emb, Index: i}
	}
	setTimingHeaders(c, em)
	return c.JSON(http.StatusOK, resp)
}

func float32Base64(v []float32) string {
	buf := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(buf)
}
