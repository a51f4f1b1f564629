package serve

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// EmbedRequest is the body of POST /embed, as Text Embeddings Inference.
type EmbedRequest struct {
	Inputs Inputs `json:"inputs"`
	// Normalize L2-normalises the vectors (default true, as TEI).
	Normalize *bool `json:"normalize,omitempty"`
	// Truncate cuts over-long inputs (default false, as TEI: they are a
	// 413).
	Truncate *bool `json:"truncate,omitempty"`
	// TruncationDirection must be "right" (or empty) when given.
	TruncationDirection string `json:"truncation_direction,omitempty"`
	// PromptName is not supported; it must be empty.
	PromptName *string `json:"prompt_name,omitempty"`
}

// handleEmbed answers [[float, ...], ...], one vector per input, also for a
// single string input (as TEI).
func (s *Server) handleEmbed(c echo.Context) error {
	var req EmbedRequest
	if err := decodeJSON(c, s.cfg.PayloadLimit, &req); err != nil {
		return err
	}
	if err := s.checkInputs(req.Inputs, "inputs"); err != nil {
		return err
	}
	if d := strings.ToLower(req.TruncationDirection); d != "" && d != "right" {
		return unprocessable("truncation_direction %q is not supported; only \"right\" is", req.TruncationDirection)
	}
	if req.PromptName != nil && *req.PromptName != "" {
		return unprocessable("prompt_name is not supported: this model has no prompts; prepend the prompt to the text")
	}
	em, err := s.embedTexts(c, req.Inputs.Texts, req.Truncate != nil && *req.Truncate)
	if err != nil {
		return err
	}
	vecs := em.vectors
	if (req.Normalize == nil || *req.Normalize) && !em.model.info.Normalized {
		vecs = l2normalized(vecs)
	}
	setTimingHeaders(c, em)
	return c.JSON(http.StatusOK, vecs)
}

// OpenAIEmbeddingsRequest is the body of POST /v1/embeddings, as OpenAI.
type OpenAIEmbeddingsRequest struct {
	Input Inputs `json:"input"`
	// Model is echoed back; any value is accepted, there is one model.
	Model string `json:"model,omitempty"`
	// EncodingFormat is "float" (default) or "base64" (little-endian
	// float32, as the OpenAI clients decode it).
	EncodingFormat string `json:"encoding_format,omitempty"`
	// Dimensions, when given, must equal the model's dimension.
	Dimensions *int   `json:"dimensions,omitempty"`
	User       string `json:"user,omitempty"`
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
		return badRequest("encoding_format must be \"float\" or \"base64\", got %q", req.EncodingFormat)
	}
	m, err := s.model()
	if err != nil {
		return err
	}
	if req.Dimensions != nil && *req.Dimensions != m.info.Dim {
		return badRequest("dimensions %d is not available: this model gives %d", *req.Dimensions, m.info.Dim)
	}
	em, err := s.embedTexts(c, req.Input.Texts, false)
	if err != nil {
		return err
	}
	vecs := em.vectors
	if !em.model.info.Normalized {
		vecs = l2normalized(vecs)
	}
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

// TokenizeRequest is the body of POST /tokenize, as TEI.
type TokenizeRequest struct {
	Inputs Inputs `json:"inputs"`
	// AddSpecialTokens keeps [CLS], [SEP], ... (default true).
	AddSpecialTokens *bool `json:"add_special_tokens,omitempty"`
}

// SimpleToken is one token of a /tokenize answer. Start and Stop (byte
// offsets) are null: the tokenizer does not report offsets.
type SimpleToken struct {
	ID      int64  `json:"id"`
	Text    string `json:"text"`
	Special bool   `json:"special"`
	Start   *int   `json:"start"`
	Stop    *int   `json:"stop"`
}

// handleTokenize answers [[token, ...], ...], one list per input, without
// truncation.
func (s *Server) handleTokenize(c echo.Context) error {
	var req TokenizeRequest
	if err := decodeJSON(c, s.cfg.PayloadLimit, &req); err != nil {
		return err
	}
	if err := s.checkInputs(req.Inputs, "inputs"); err != nil {
		return err
	}
	m, err := s.model()
	if err != nil {
		return err
	}
	special := req.AddSpecialTokens == nil || *req.AddSpecialTokens
	out := make([][]SimpleToken, len(req.Inputs.Texts))
	for i, t := range req.Inputs.Texts {
		toks := m.e.Tokenize(t, 0)
		list := make([]SimpleToken, 0, len(toks.IDs))
		for j, id := range toks.IDs {
			isSpecial := j < len(toks.Special) && toks.Special[j]
			if isSpecial && !special {
				continue
			}
			text := ""
			if j < len(toks.Tokens) {
				text = toks.Tokens[j]
			}
			list = append(list, SimpleToken{ID: id, Text: text, Special: isSpecial})
		}
		out[i] = list
	}
	return c.JSON(http.StatusOK, out)
}
