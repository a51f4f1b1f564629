package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// Server is the HTTP API: one encoder, any number of heads, a cross-request
// batcher in front of the encoder, training jobs, metrics and the web page.
type Server struct {
	cfg      Config
	log      *slog.Logger
	e        *echo.Echo
	embedder atomic.Pointer[embedderBox]
	batcher  *Batcher
	limiter  *ConcurrencyLimiter
	heads    *Registry
	jobs     *jobManager
	metrics  *serverMetrics
	routes   map[string]bool

	overloadLog rateLog      // one line per interval for 429s
	inFlight    atomic.Int64 // requests being served (observe)

	stamps        headStamps // of the heads loaded from the store
	refreshOnce   sync.Once
	refreshCancel context.CancelFunc

	headsLoaded atomic.Bool
	mu          sync.Mutex // guards httpSrv and stopped
	httpSrv     *http.Server
	stopped     bool
	shutdown    sync.Once
}

type embedderBox struct {
	e    Embedder
	info ModelInfo
}

// New builds a server. It does not listen: use Serve, or Handler with your
// own http.Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, heads: NewRegistry(), routes: map[string]bool{}, overloadLog: rateLog{every: 10 * time.Second}}
	s.limiter = ConcurrencyLimit(ConcurrencyLimitConfig{Max: cfg.MaxConcurrentRequests})
	s.jobs = newJobManager(s)
	s.metrics = newServerMetrics(
		func() float64 { return float64(s.batcher.Depth()) },
		func() float64 { return float64(s.limiter.InFlight()) },
		func() float64 { return float64(s.heads.Len()) },
		s.jobs.stateCounts,
	)
	s.batcher = NewBatcher(BatcherConfig{
		Embed:            s.embedBatch,
		EmbedNeeds:       s.embedBatchNeeds,
		EmbedIDs:         s.embedIDsBatch,
		MaxBatchTokens:   cfg.MaxBatchTokens,
		MaxBatchRequests: cfg.MaxBatchRequests,
		MaxWait:          cfg.MaxWait,
		Workers:          cfg.Workers,
		QueueSize:        cfg.MaxConcurrentRequests,
		Observe:          s.metrics.observeBatch,
	})
	if cfg.Embedder != nil {
		if err := s.SetEmbedder(cfg.Embedder); err != nil {
			return nil, err
		}
	}
	if cfg.Store == nil {
		s.headsLoaded.Store(true)
	}
	s.e = s.newEcho()
	return s, nil
}

// SetEmbedder installs the encoder (once the model has loaded). It may
// replace a previous one; requests already queued use the new one.
func (s *Server) SetEmbedder(e Embedder) error {
	if e == nil {
		return errors.New("serve: nil embedder")
	}
	info := e.Info()
	if info.Dim <= 0 {
		return fmt.Errorf("serve: the encoder reports dimension %d", info.Dim)
	}
	s.embedder.Store(&embedderBox{e: e, info: info})
	return nil
}

func (s *Server) model() (*embedderBox, error) {
	b := s.embedder.Load()
	if b == nil {
		return nil, notReady()
	}
	return b, nil
}

// Ready reports whether the model is loaded and the stored heads are read.
func (s *Server) Ready() bool { return s.embedder.Load() != nil && s.headsLoaded.Load() }

// Heads is the registry of served heads.
func (s *Server) Heads() *Registry { return s.heads }

// Handler is the HTTP handler (an *echo.Echo).
func (s *Server) Handler() http.Handler { return s.e }

// LoadHeads reads every head in the store into the registry. A head that
// fails to load, or whose dimension differs from the encoder's, is logged
// and skipped: one bad directory must not keep the others from serving.
// It returns the names loaded.
func (s *Server) LoadHeads() ([]string, error) {
	defer s.headsLoaded.Store(true)
	if s.cfg.Store == nil {
		return nil, nil
	}
	names, err := s.cfg.Store.Names()
	if err != nil {
		return nil, err
	}
	var loaded []string
	for _, name := range names {
		h, err := s.cfg.Store.Load(name)
		if err != nil {
			s.log.Error("skipping head", "head", name, "err", err)
			continue
		}
		if err := s.checkHead(name, h); err != nil {
			s.log.Error("skipping head", "head", name, "err", err)
			continue
		}
		stamp, stamped := s.stampOf(name)
		if _, err := s.heads.Put(name, h); err != nil {
			s.log.Error("skipping head", "head", name, "err", err)
			continue
		}
		if stamped {
			s.stamps.set(name, stamp)
		}
		s.log.Info("head loaded", "head", name, "labels", h.Labels())
		loaded = append(loaded, name)
	}
	if every := s.cfg.HeadsRefresh; every > 0 {
		if _, ok := s.cfg.Store.(StampedStore); ok {
			s.refreshOnce.Do(func() {
				ctx, cancel := context.WithCancel(context.Background())
				s.mu.Lock()
				s.refreshCancel = cancel
				s.mu.Unlock()
				go s.refreshLoop(ctx, every)
			})
		}
	}
	return loaded, nil
}

// stampOf is the store's stamp of a head, when the store has stamps.
func (s *Server) stampOf(name string) (string, bool) {
	st, ok := s.cfg.Store.(StampedStore)
	if !ok {
		return "", false
	}
	stamp, err := st.Stamp(name)
	return stamp, err == nil
}

// recordStamp notes the stamp of a head this server just saved, so the
// refresher does not load it again.
func (s *Server) recordStamp(name string) {
	if stamp, ok := s.stampOf(name); ok {
		s.stamps.set(name, stamp)
	}
}

// checkHead refuses a head that would get the wrong inputs from this
// encoder: another dimension always; another encoder digest or pooling
// unless Config.ForceHeads; raw-embedding heads behind a normalising
// encoder.
func (s *Server) checkHead(name string, h Head) error {
	b := s.embedder.Load()
	if b == nil {
		return nil
	}
	m, info := b.info, h.Describe()
	if h.Dim() != m.Dim {
		return fmt.Errorf("head %q expects %d-dimensional embeddings but the model %q gives %d; retrain it on this model",
			name, h.Dim(), m.Name, m.Dim)
	}
	if info.Pooling != "" && m.Pooling != "" && info.Pooling != m.Pooling && !s.cfg.ForceHeads {
		return fmt.Errorf("head %q was trained on %s-pooled embeddings but the server pools with %s; start it with --pooling %s, or --force",
			name, info.Pooling, m.Pooling, info.Pooling)
	}
	if info.EncoderDigest != "" && m.Digest != "" && info.EncoderDigest != m.Digest && !s.cfg.ForceHeads &&
		(tailOf(h) != "" || baseDigest(info.EncoderDigest, info.EncoderQuantizedFrom) != baseDigest(m.Digest, m.QuantizedFrom)) {
		return fmt.Errorf("head %q was trained on encoder %s (%s) but the server runs %s (%s); retrain it, or pass --force to use it anyway",
			name, info.EncoderName, shortDigest(info.EncoderDigest), m.Name, shortDigest(m.Digest))
	}
	if tailOf(h) != "" {
		// The head's tail pools (and normalises) the hidden states itself.
		if _, ok := b.e.(TailEmbedder); !ok {
			return fmt.Errorf("head %q owns encoder layers (a tail), which this encoder cannot run", name)
		}
		return nil
	}
	if m.Normalized && !info.Normalize {
		return fmt.Errorf("head %q was trained on raw embeddings but the encoder normalises them; start the server without --normalize", name)
	}
	return nil
}

// baseDigest is the float32 model a model digest stands for: the model
// itself, or the one an int8 model was quantized from. A head without
// encoder layers of its own is served by any variant of its encoder.
func baseDigest(digest, quantizedFrom string) string {
	if quantizedFrom != "" {
		return quantizedFrom
	}
	return digest
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// embedBatch is the batcher's encoder call.
func (s *Server) embedBatch(ctx context.Context, texts []string) (*Embeddings, error) {
	b := s.embedder.Load()
	if b == nil {
		return nil, notReady()
	}
	return b.e.Embed(ctx, texts)
}

// embedBatchNeeds is the batcher's call for batches that need tails.
func (s *Server) embedBatchNeeds(ctx context.Context, texts []string, needs []Need) (*Embeddings, error) {
	b := s.embedder.Load()
	if b == nil {
		return nil, notReady()
	}
	te, ok := b.e.(TailEmbedder)
	if !ok {
		return nil, backendError(nil, "a requested head owns encoder layers (a tail), which this encoder cannot run")
	}
	return te.EmbedNeeds(ctx, texts, needs)
}

// embedIDsBatch is the batcher's call for token-id inputs.
func (s *Server) embedIDsBatch(ctx context.Context, ids [][]int64) (*Embeddings, error) {
	b := s.embedder.Load()
	if b == nil {
		return nil, notReady()
	}
	te, ok := b.e.(TokenEmbedder)
	if !ok {
		return nil, unprocessable("this encoder does not take token ids; send texts")
	}
	return te.EmbedIDs(ctx, ids)
}

// Serve accepts connections on ln until Shutdown. It returns nil after a
// graceful shutdown.
func (s *Server) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler: s.e,
		// Headers within ReadHeaderTimeout; bodies within ReadTimeout,
		// set per request by readBody (uploads get UploadTimeout).
		ReadHeaderTimeout: min(10*time.Second, s.cfg.ReadTimeout),
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.httpSrv = srv
	s.mu.Unlock()
	s.log.Info("listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// InFlight is the number of requests being served.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// Shutdown stops accepting connections, waits for in-flight requests until
// ctx ends, cancels training jobs (nothing half-trained is saved) and stops
// the batcher. It is safe to call more than once. Its error says what did
// not finish: requests cut off at the deadline, jobs that did not stop.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutdown.Do(func() {
		s.mu.Lock()
		s.stopped = true
		srv := s.httpSrv
		s.mu.Unlock()
		var errs []error
		if srv != nil {
			if e := srv.Shutdown(ctx); e != nil {
				n := s.inFlight.Load()
				srv.Close()
				errs = append(errs, fmt.Errorf("%d in-flight requests did not finish in time and were cut off: %w", n, e))
			}
		}
		s.mu.Lock()
		if s.refreshCancel != nil {
			s.refreshCancel()
		}
		s.mu.Unlock()
		if e := s.jobs.shutdown(ctx); e != nil {
			errs = append(errs, e)
		}
		s.batcher.Close()
		err = errors.Join(errs...)
	})
	return err
}

// Close releases the batcher and jobs without the HTTP shutdown (for tests
// that use Handler directly).
func (s *Server) Close() { _ = s.Shutdown(context.Background()) }

func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(func(c echo.Context, err error) {
		s.log.Error("request failed", "method", c.Request().Method, "path", clip(c.Request().URL.Path), "err", err)
	})
	e.Use(s.observe, s.recover)

	read := BearerAuth(BearerAuthConfig{Tokens: []string{s.cfg.APIKey, s.cfg.AdminToken}, What: "API key"})
	if s.cfg.APIKey == "" {
		read = func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	admin := BearerAuth(BearerAuthConfig{Tokens: []string{s.cfg.AdminToken}, What: "admin token",
		DisabledMessage: "admin routes are disabled: start the server with --admin-token or BERTSERVE_ADMIN_TOKEN"})

	// Every inference route: read the body first (bounded in size and
	// time), then take a slot, then the request timeout.
	infer := []echo.MiddlewareFunc{read, s.readFirst, s.limiter.Middleware, Timeout(TimeoutConfig{Timeout: s.cfg.RequestTimeout})}

	add := func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		e.Add(method, path, h, m...)
		s.routes[path] = true
	}
	add(http.MethodGet, "/", s.handlePage)
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		add(m, "/health", s.handleHealth)
		add(m, "/ready", s.handleReady)
	}
	add(http.MethodGet, "/metrics", s.handleMetrics)
	add(http.MethodGet, "/info", s.handleInfo, read)

	// TEI and the Hugging Face Inference API.
	add(http.MethodPost, "/", s.handleRoot, infer...)
	add(http.MethodPost, "/invocations", s.handleRoot, infer...) // SageMaker's name for it, as TEI
	add(http.MethodPost, "/heads/:name", s.handleHeadEndpoint, infer...)
	add(http.MethodPost, "/predict", s.handlePredict, infer...)
	add(http.MethodPost, "/embed", s.handleEmbed, infer...)
	add(http.MethodPost, "/tokenize", s.handleTokenize, infer...)
	// OpenAI ("/embeddings": an SDK whose base URL is the server's root).
	add(http.MethodPost, "/v1/embeddings", s.handleOpenAIEmbeddings, infer...)
	add(http.MethodPost, "/embeddings", s.handleOpenAIEmbeddings, infer...)
	// The pipeline, and the heads.
	add(http.MethodPost, "/v1/classify", s.handleClassify, infer...)
	// The Open Inference Protocol (KServe v2): every head is a model.
	add(http.MethodGet, "/v2", s.handleOIPServer, read)
	add(http.MethodGet, "/v2/health/live", s.handleOIPLive)
	add(http.MethodGet, "/v2/health/ready", s.handleOIPReady)
	for _, base := range []string{"/v2/models/:name", "/v2/models/:name/versions/:version"} {
		add(http.MethodGet, base, s.handleOIPModelMetadata, read)
		add(http.MethodGet, base+"/ready", s.handleOIPModelReady, read)
		add(http.MethodPost, base+"/infer", s.handleOIPInfer, infer...)
	}

	add(http.MethodGet, "/v1/heads", s.handleListHeads, read)
	add(http.MethodGet, "/v1/heads/:name", s.handleGetHead, read)
	add(http.MethodDelete, "/v1/heads/:name", s.handleDeleteHead, admin)
	add(http.MethodPost, "/v1/heads/:name/train", s.handleTrain, admin)
	add(http.MethodGet, "/v1/jobs", s.handleListJobs, read)
	add(http.MethodGet, "/v1/jobs/:id", s.handleGetJob, read)
	add(http.MethodDelete, "/v1/jobs/:id", s.handleCancelJob, admin)
	return e
}

const startKey = "bertserve.start"

// observe records metrics and logs for every request and resolves errors
// here, so the status code it records is the one the client saw.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		c.Set(startKey, start)
		req := c.Request()
		id := req.Header.Get(echo.HeaderXRequestID)
		if id == "" || len(id) > 128 {
			id = randomHex(8)
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)

		s.inFlight.Add(1)
		err := next(c)
		s.inFlight.Add(-1)
		status := c.Response().Status
		var apiErr *Error
		if err != nil {
			c.Error(err)
			status = c.Response().Status
			if errors.As(err, &apiErr) && apiErr.Code == StatusClientClosedRequest {
				status = StatusClientClosedRequest
			}
		}
		route := c.Path()
		if !s.routes[route] {
			route = "unmatched"
		}
		d := time.Since(start)
		s.metrics.observeRequest(route, req.Method, status, d)

		level := slog.LevelDebug
		switch {
		case apiErr != nil && apiErr.expected:
		case status >= 500:
			level = slog.LevelWarn
		case status >= 400:
			level = slog.LevelInfo
		}
		if status == http.StatusTooManyRequests {
			if report, n := s.overloadLog.hit(time.Now()); report {
				s.log.Warn("overloaded: refusing requests with 429", "refused", n, "since", s.overloadLog.every,
					"max_concurrent_requests", s.cfg.MaxConcurrentRequests)
			}
		}
		if s.log.Enabled(req.Context(), level) {
			attrs := []slog.Attr{
				slog.String("id", id), slog.String("method", req.Method), slog.String("path", clip(req.URL.Path)),
				slog.Int("status", status), slog.Duration("duration", d), slog.String("remote", c.RealIP()),
			}
			if err != nil {
				attrs = append(attrs, slog.String("err", err.Error()))
			}
			s.log.LogAttrs(context.Background(), level, "request", attrs...)
		}
		return nil
	}
}

// recover turns a handler panic into a 500 and a log line with the stack,
// so one bad request cannot take the server down. (echo's own Recover
// lives in a package that pulls in golang.org/x/time.)
func (s *Server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				stack := make([]byte, 8<<10)
				stack = stack[:runtime.Stack(stack, false)]
				s.log.Error("handler panicked", "path", clip(c.Request().URL.Path), "panic", fmt.Sprint(p), "stack", string(stack))
				err = internalError(fmt.Errorf("panic: %v", p), "internal error")
			}
		}()
		return next(c)
	}
}

func requestStart(c echo.Context) time.Time {
	if t, ok := c.Get(startKey).(time.Time); ok {
		return t
	}
	return time.Now()
}
