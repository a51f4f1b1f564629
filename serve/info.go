package serve

import (
	"bytes"
	"net/http"

	"github.com/labstack/echo/v4"
)

// InfoResponse is the answer of GET /info: the TEI fields plus the heads
// and the batching limits.
type InfoResponse struct {
	ModelID          string         `json:"model_id"`
	ModelSHA         string         `json:"model_sha,omitempty"`
	ModelDtype       string         `json:"model_dtype"`
	ModelType        map[string]any `json:"model_type"`
	Dim              int            `json:"dim"`
	MaxInputLength   int            `json:"max_input_length"`
	Pooling          string         `json:"pooling"`
	Normalized       bool           `json:"normalized"`
	Device           string         `json:"device"`
	Ready            bool           `json:"ready"`
	Heads            []string       `json:"heads"`
	MaxConcurrent    int            `json:"max_concurrent_requests"`
	MaxBatchTokens   int            `json:"max_batch_tokens"`
	MaxBatchRequests int            `json:"max_batch_requests"`
	MaxWaitMS        float64        `json:"max_wait_ms"`
	MaxClientBatch   int            `json:"max_client_batch_size"`
	PayloadLimit     int64          `json:"payload_limit"`
	AutoTruncate     bool           `json:"auto_truncate"`
	AdminEnabled     bool           `json:"admin_enabled"`
	TrainingEnabled  bool           `json:"training_enabled"`
	Version          string         `json:"version"`
}

func (s *Server) handleInfo(c echo.Context) error {
	r := InfoResponse{
		ModelDtype:       "float32",
		Ready:            s.Ready(),
		Heads:            append([]string{}, s.heads.Names()...),
		MaxConcurrent:    s.cfg.MaxConcurrentRequests,
		MaxBatchTokens:   s.cfg.MaxBatchTokens,
		MaxBatchRequests: s.cfg.MaxBatchRequests,
		MaxWaitMS:        float64(s.cfg.MaxWait.Microseconds()) / 1000,
		MaxClientBatch:   s.cfg.MaxClientBatch,
		PayloadLimit:     s.cfg.PayloadLimit,
		AdminEnabled:     s.cfg.AdminToken != "",
		TrainingEnabled:  s.cfg.AdminToken != "" && s.cfg.Train != nil && s.cfg.Store != nil,
		Version:          s.cfg.Version,
	}
	if b := s.embedder.Load(); b != nil {
		r.ModelID = b.info.Name
		r.ModelSHA = b.info.Digest
		r.Dim = b.info.Dim
		r.MaxInputLength = b.info.MaxLength
		r.Pooling = b.info.Pooling
		r.Normalized = b.info.Normalized
		r.Device = b.info.Device
		r.ModelType = map[string]any{"embedding": map[string]string{"pooling": b.info.Pooling}}
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Server) handleHealth(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReady(c echo.Context) error {
	if !s.Ready() {
		return notReady()
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "heads": s.heads.Len()})
}

func (s *Server) handleMetrics(c echo.Context) error {
	var buf bytes.Buffer
	if _, err := s.metrics.reg.WriteTo(&buf); err != nil {
		return backendError(err, "writing metrics: %v", err)
	}
	return c.Blob(http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", buf.Bytes())
}
