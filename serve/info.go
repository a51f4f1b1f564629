package serve

import (
	"bytes"
	"net/http"
	"runtime"
	"strconv"

	"github.com/labstack/echo/v4"
)

// InfoResponse is the answer of GET /info: TEI's Info (model_type says
// "classifier" with the default head's labels when POST / classifies,
// "embedding" otherwise) plus the heads and the batching limits.
type InfoResponse struct {
	ModelID    string `json:"model_id"`
	ModelSHA   string `json:"model_sha,omitempty"`
	ModelDtype string `json:"model_dtype"`
	// ModelQuantizedFrom is, for an int8 model, the sha256 of the float32
	// model it was quantized from.
	ModelQuantizedFrom  string         `json:"model_quantized_from,omitempty"`
	ModelType           map[string]any `json:"model_type"`
	ServedModelName     string         `json:"served_model_name"`
	TokenizationWorkers int            `json:"tokenization_workers"`
	// Task is what POST / does: text-classification or
	// feature-extraction; DefaultHead the head it classifies with.
	Task             string   `json:"task"`
	DefaultHead      string   `json:"default_head,omitempty"`
	Dim              int      `json:"dim"`
	MaxInputLength   int      `json:"max_input_length"`
	Pooling          string   `json:"pooling"`
	Normalized       bool     `json:"normalized"`
	Device           string   `json:"device"`
	Ready            bool     `json:"ready"`
	Heads            []string `json:"heads"`
	MaxConcurrent    int      `json:"max_concurrent_requests"`
	MaxBatchTokens   int      `json:"max_batch_tokens"`
	MaxBatchRequests int      `json:"max_batch_requests"`
	MaxWaitMS        float64  `json:"max_wait_ms"`
	MaxClientBatch   int      `json:"max_client_batch_size"`
	PayloadLimit     int64    `json:"payload_limit"`
	AutoTruncate     bool     `json:"auto_truncate"`
	AdminEnabled     bool     `json:"admin_enabled"`
	TrainingEnabled  bool     `json:"training_enabled"`
	Version          string   `json:"version"`
}

func (s *Server) handleInfo(c echo.Context) error {
	task, def := s.RootTask()
	r := InfoResponse{
		ModelDtype: "float32",
		Task:       task, DefaultHead: def,
		// Requests tokenize in their own goroutines: as many at once as
		// there are threads to run them.
		TokenizationWorkers: runtime.GOMAXPROCS(0),
		AutoTruncate:        !s.cfg.NoAutoTruncate,
		Ready:               s.Ready(),
		Heads:               append([]string{}, s.heads.Names()...),
		MaxConcurrent:       s.cfg.MaxConcurrentRequests,
		MaxBatchTokens:      s.cfg.MaxBatchTokens,
		MaxBatchRequests:    s.cfg.MaxBatchRequests,
		MaxWaitMS:           float64(s.cfg.MaxWait.Microseconds()) / 1000,
		MaxClientBatch:      s.cfg.MaxClientBatch,
		PayloadLimit:        s.cfg.PayloadLimit,
		AdminEnabled:        s.cfg.AdminToken != "",
		TrainingEnabled:     s.cfg.AdminToken != "" && s.cfg.Train != nil && s.cfg.Store != nil,
		Version:             s.cfg.Version,
	}
	if b := s.embedder.Load(); b != nil {
		r.ModelID = b.info.Name
		r.ModelSHA = b.info.Digest
		if b.info.DType != "" {
			r.ModelDtype = b.info.DType
		}
		r.ModelQuantizedFrom = b.info.QuantizedFrom
		r.Dim = b.info.Dim
		r.MaxInputLength = b.info.MaxLength
		r.Pooling = b.info.Pooling
		r.Normalized = b.info.Normalized
		r.Device = b.info.Device
		r.ServedModelName = b.info.Name
		r.ModelType = map[string]any{"embedding": map[string]string{"pooling": b.info.Pooling}}
	}
	if lh, ok := s.heads.Get(def); ok && task == TaskTextClassification {
		id2label, label2id := map[string]string{}, map[string]int{}
		for i, l := range lh.Labels {
			id2label[strconv.Itoa(i)] = l
			label2id[l] = i
		}
		r.ModelType = map[string]any{"classifier": map[string]any{"id2label": id2label, "label2id": label2id}}
	}
	if r.ModelType == nil {
		r.ModelType = map[string]any{"embedding": map[string]string{"pooling": "unknown"}}
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
