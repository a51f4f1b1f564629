package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/serve"
)

// version is reported by GET /info; release builds set it with -ldflags.
var version = "dev"

// serveFlags are the flags of `bertserve serve` beyond the encoder's.
type serveFlags struct {
	heads, addr                      string
	maxBatchTokens, maxBatchRequests int
	maxWait                          time.Duration
	workers                          int
	maxConcurrent, maxClientBatch    int
	payloadLimit, uploadLimit        int64
	requestTimeout, shutdownTimeout  time.Duration
	readTimeout, uploadTimeout       time.Duration
	adminToken, apiKey               string
	logFormat, logLevel              string
	force                            bool
	maxJobs                          int
	autoTruncate                     bool
	defaultHead                      string
	headsRefresh                     time.Duration
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.heads, "heads", "heads", "heads directory: one sub-directory per head, loaded at start; trained heads are saved here")
	fs.StringVar(&f.addr, "addr", ":8080", "listen address")
	fs.IntVar(&f.maxBatchTokens, "max-batch-tokens", 16384, "max tokens of one encoder call across merged requests")
	fs.IntVar(&f.maxBatchRequests, "max-batch-requests", 32, "max requests merged into one encoder call (1: no cross-request batching)")
	fs.DurationVar(&f.maxWait, "max-wait", 2*time.Millisecond, "longest wait for more requests to fill a batch")
	fs.IntVar(&f.workers, "workers", 1, "encoder calls in flight at once")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-requests", 512, "inference requests served at once; more are answered 429 at once")
	fs.IntVar(&f.maxClientBatch, "max-client-batch", 32, "max inputs per request (413 beyond)")
	fs.Int64Var(&f.payloadLimit, "payload-limit", 2_000_000, "max JSON request body in bytes (413 beyond)")
	fs.Int64Var(&f.uploadLimit, "upload-limit", 64<<20, "max training upload in bytes (413 beyond)")
	fs.DurationVar(&f.requestTimeout, "request-timeout", 30*time.Second, "per-request timeout, queue included (503 queued, 504 computing)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long in-flight requests may finish (exit status 1 when some are cut off)")
	fs.DurationVar(&f.readTimeout, "read-timeout", 30*time.Second, "max time to receive a request's headers and JSON body (408 beyond); a request takes an inference slot only once read")
	fs.DurationVar(&f.uploadTimeout, "upload-timeout", 10*time.Minute, "max time to receive a training upload (408 beyond)")
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer token for train/delete/cancel (default $BERTSERVE_ADMIN_TOKEN; empty disables those routes)")
	fs.StringVar(&f.apiKey, "api-key", "", "bearer token required on the read routes (default $BERTSERVE_API_KEY; empty: open)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug (logs every request), info, warn, error")
	fs.BoolVar(&f.force, "force", false, "serve heads trained on another encoder or pooling of the same dimension")
	fs.IntVar(&f.maxJobs, "max-jobs", 1, "training jobs that run at once")
	fs.BoolVar(&f.autoTruncate, "auto-truncate", true, "cut inputs over the model's maximum length (as TEI); with --auto-truncate=false they are a 413 unless the request sends \"truncate\": true")
	fs.DurationVar(&f.headsRefresh, "heads-refresh", 5*time.Second, "reread --heads this often, so replicas sharing the directory see heads trained, replaced or deleted by the others (0: only at start)")
	fs.StringVar(&f.defaultHead, "default-head", "", "head that POST /, POST /predict and /v1/classify without a head use (default: the only loaded head; with several, POST / embeds)")
}

func (f *serveFlags) check() error {
	for _, c := range []struct {
		ok   bool
		flag string
	}{
		{f.maxBatchTokens > 0, "--max-batch-tokens"}, {f.maxBatchRequests > 0, "--max-batch-requests"},
		{f.maxWait >= 0, "--max-wait"}, {f.workers > 0, "--workers"}, {f.maxConcurrent > 0, "--max-concurrent-requests"},
		{f.maxClientBatch > 0, "--max-client-batch"}, {f.payloadLimit > 0, "--payload-limit"}, {f.uploadLimit > 0, "--upload-limit"},
		{f.requestTimeout > 0, "--request-timeout"}, {f.headsRefresh >= 0, "--heads-refresh"}, {f.shutdownTimeout > 0, "--shutdown-timeout"}, {f.maxJobs > 0, "--max-jobs"},
		{f.readTimeout > 0, "--read-timeout"}, {f.uploadTimeout > 0, "--upload-timeout"},
	} {
		if !c.ok && (c.flag == "--max-wait" || c.flag == "--heads-refresh") {
			return usagef("%s must not be negative", c.flag)
		}
		if !c.ok {
			return usagef("%s must be positive", c.flag)
		}
	}
	if f.defaultHead != "" {
		if err := serve.ValidateHeadName(f.defaultHead); err != nil {
			return usagef("--default-head: %v", err)
		}
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return usagef("--log-format must be text or json, got %q", f.logFormat)
	}
	return nil
}

func (f *serveFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, usagef("--log-level must be debug, info, warn or error, got %q", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	if f.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}

// cmdServe runs the HTTP server until SIGTERM or SIGINT. It listens before
// the model has loaded, so /health answers at once and /ready turns 200
// when the encoder and the heads are in.
func cmdServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var ef encoderFlags
	var sf serveFlags
	ef.register(fs)
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bertserve serve --model DIR --heads DIR [--addr :8080] [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if ef.model == "" {
		return usagef("--model DIR is required (run `bertserve pull default` for the default model)")
	}
	// Tokens from the environment are read here, not as flag defaults,
	// so -h never prints them.
	if sf.adminToken == "" {
		sf.adminToken = os.Getenv("BERTSERVE_ADMIN_TOKEN")
	}
	if sf.apiKey == "" {
		sf.apiKey = os.Getenv("BERTSERVE_API_KEY")
	}
	if err := sf.check(); err != nil {
		return err
	}
	log, err := sf.logger()
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	var backend atomic.Pointer[encoderBackend]
	store, train, err := openHeads(sf.heads, sf.force, backend.Load)
	if err != nil {
		return err
	}
	srv, err := serve.New(serve.Config{
		Store:                 store,
		Train:                 train,
		Logger:                log,
		Version:               version,
		MaxBatchTokens:        sf.maxBatchTokens,
		MaxBatchRequests:      sf.maxBatchRequests,
		MaxWait:               orNegative(sf.maxWait),
		Workers:               sf.workers,
		MaxConcurrentRequests: sf.maxConcurrent,
		MaxClientBatch:        sf.maxClientBatch,
		PayloadLimit:          sf.payloadLimit,
		UploadLimit:           sf.uploadLimit,
		RequestTimeout:        sf.requestTimeout,
		ReadTimeout:           sf.readTimeout,
		UploadTimeout:         sf.uploadTimeout,
		AdminToken:            sf.adminToken,
		APIKey:                sf.apiKey,
		ForceHeads:            sf.force,
		MaxJobs:               sf.maxJobs,
		NoAutoTruncate:        !sf.autoTruncate,
		DefaultHead:           sf.defaultHead,
		HeadsRefresh:          sf.headsRefresh,
	})
	if err != nil {
		return usagef("%v", err)
	}
	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another server running? pick another --addr)", sf.addr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	loaded := make(chan error, 1)
	var enc *encoder.Encoder
	go func() {
		var err error
		enc, err = ef.open()
		if err == nil {
			err = startServing(srv, enc, ef.model, &backend, log, sf, ln.Addr().String())
		}
		loaded <- err
	}()

	var runErr error
	gotLoaded := false
	select {
	case runErr = <-loaded:
		gotLoaded = true
		if runErr == nil {
			select {
			case <-ctx.Done():
			case runErr = <-served:
			}
		}
	case <-ctx.Done():
	case runErr = <-served:
	}
	if !gotLoaded {
		// The encoder cannot be interrupted while it loads; wait for it so
		// it can be closed.
		if err := <-loaded; runErr == nil && ctx.Err() == nil {
			runErr = err
		}
	}
	stop() // a second signal kills the process
	if ctx.Err() != nil {
		log.Info("shutting down: no new connections; waiting for in-flight requests and cancelling training jobs",
			"in_flight", srv.InFlight(), "timeout", sf.shutdownTimeout)
	}
	sctx, cancel := context.WithTimeout(context.Background(), sf.shutdownTimeout)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	if be := backend.Load(); be != nil && be.tails != nil && shutErr == nil {
		be.tails.Close()
	}
	if enc != nil && shutErr == nil {
		// Only once nothing uses it: after an incomplete shutdown a cut-off
		// request or a job may still hold it, and the process ends anyway.
		enc.Close()
	}
	switch {
	case runErr != nil:
		if shutErr != nil {
			log.Warn("shutdown incomplete", "err", shutErr)
		}
		return runErr
	case shutErr != nil:
		log.Error("shutdown incomplete", "timeout", sf.shutdownTimeout, "err", shutErr)
		return fmt.Errorf("shutdown within --shutdown-timeout %s: %w", sf.shutdownTimeout, shutErr)
	}
	log.Info("stopped: every in-flight request finished")
	return nil
}

// orNegative maps --max-wait 0 to serve's "no wait" (its zero means the
// default).
func orNegative(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func startServing(srv *serve.Server, enc *encoder.Encoder, modelDir string, backend *atomic.Pointer[encoderBackend], log *slog.Logger, sf serveFlags, addr string) error {
	be := newEncoderBackend(enc, modelDir)
	be.tails = newServedTails(enc, modelDir)
	backend.Store(be)
	if err := srv.SetEmbedder(be); err != nil {
		return err
	}
	names, err := srv.LoadHeads()
	if err != nil {
		return fmt.Errorf("loading heads from %s: %w", sf.heads, err)
	}
	info := be.Info()
	host := addr // the address listened on (with --addr :0, the port chosen)
	if h, port, err := net.SplitHostPort(addr); err == nil && (h == "" || h == "::" || h == "0.0.0.0") {
		host = net.JoinHostPort("localhost", port)
	}
	log.Info("ready", "model", info.Name, "dim", info.Dim, "pooling", info.Pooling, "device", info.Device,
		"heads", names, "url", "http://"+host+"/")
	if len(names) == 0 {
		log.Info("no heads loaded yet: train one with `bertserve train --out " + sf.heads + "/NAME`, or from the page with --admin-token")
	}
	if task, head := srv.RootTask(); head != "" {
		log.Info("POST / and /predict classify", "task", task, "head", head)
	} else {
		log.Info("POST / embeds (one head, or --default-head, makes it classify)", "task", task)
	}
	return nil
}

// encoderBackend adapts *encoder.Encoder to serve.Embedder.
type encoderBackend struct {
	enc      *encoder.Encoder
	modelDir string
	tok      encoder.Tokenizer
	special  map[int64]bool
	info     serve.ModelInfo
	// tails run the heads' own encoder layers (servetails.go).
	tails *servedTails
}

func newEncoderBackend(enc *encoder.Encoder, modelDir string) *encoderBackend {
	tok := enc.Tokenizer()
	special := map[int64]bool{}
	for _, id := range tok.Encode("", 0).IDs { // the empty string is just the special tokens
		special[id] = true
	}
	i := enc.Info()
	vocab := 0
	if v, ok := tok.(interface{ VocabSize() int }); ok {
		vocab = v.VocabSize()
	}
	return &encoderBackend{enc: enc, modelDir: modelDir, tok: tok, special: special, info: serve.ModelInfo{
		Name: i.Name, Digest: i.Digest, Dim: i.Dim, MaxLength: i.MaxLength, VocabSize: vocab,
		DType: i.DType, QuantizedFrom: i.QuantizedFrom,
		Pooling: i.Pooling, Normalized: i.Normalize, Device: i.Device,
	}}
}

// EmbedIDs makes the backend a serve.TokenEmbedder: token-id inputs and
// left truncation.
func (b *encoderBackend) EmbedIDs(ctx context.Context, ids [][]int64) (*serve.Embeddings, error) {
	r, err := b.enc.EmbedIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	return &serve.Embeddings{Vectors: r.Vectors, TokenCounts: r.TokenCounts,
		TokenizeTime: r.TokenizeTime, InferenceTime: r.InferenceTime}, nil
}

func (b *encoderBackend) Embed(ctx context.Context, texts []string) (*serve.Embeddings, error) {
	r, err := b.enc.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	return &serve.Embeddings{Vectors: r.Vectors, TokenCounts: r.TokenCounts,
		TokenizeTime: r.TokenizeTime, InferenceTime: r.InferenceTime}, nil
}

func (b *encoderBackend) Tokenize(text string, maxLen int) serve.Tokens {
	e := b.tok.Encode(text, maxLen)
	t := serve.Tokens{IDs: e.IDs, Tokens: e.Tokens, Special: make([]bool, len(e.IDs)), Truncated: e.Truncated}
	for i, id := range e.IDs {
		t.Special[i] = b.special[id]
	}
	return t
}

func (b *encoderBackend) Info() serve.ModelInfo { return b.info }

// openHeads returns the heads store for --heads DIR and the trainer of
// POST /v1/heads/{name}/train. A stored head is checked against the
// encoder when it loads (backend is set by then): another dimension is
// refused, another or unknown encoder digest too unless --force.
func openHeads(dir string, force bool, backend func() *encoderBackend) (serve.HeadStore, serve.TrainFunc, error) {
	store, err := serve.NewDirStore(serve.DirStoreConfig{
		Dir: dir,
		Load: func(dir string) (serve.Head, error) {
			m, err := head.Load(dir)
			if err != nil {
				return nil, err
			}
			var tailKey string
			if m.HasTail() {
				be := backend()
				if be == nil || be.tails == nil {
					return nil, fmt.Errorf("head %s owns encoder layers (trained with --tune) and needs the encoder loaded first", dir)
				}
				graph, err := readTail(dir, m)
				if err != nil {
					return nil, err
				}
				tailKey = sha256Hex(graph)
				if err := be.tails.register(tailKey, m.Meta().Tail.FirstLayer, graph); err != nil {
					return nil, fmt.Errorf("head %s trained encoder layers %d..%d: %w", dir, m.Meta().Tail.FirstLayer, m.Meta().Tail.TotalLayers-1, err)
				}
			}
			if be := backend(); be != nil {
				note, err := m.AcceptEncoder(be.info.Digest, be.info.QuantizedFrom, be.info.Dim, force)
				if err != nil {
					return nil, err
				}
				if note != "" {
					slog.Info("head on a quantized variant of its encoder", "head", dir, "note", note)
				}
			}
			hm := newHeadModel(m)
			hm.tail = tailKey
			return hm, nil
		},
		Save: func(dir string, h serve.Head) error {
			hm, ok := h.(*headModel)
			if !ok {
				return fmt.Errorf("cannot save a %T as a head directory", h)
			}
			if hm.trained != nil {
				if hm.tailGraph != nil {
					return hm.trained.Save(dir, head.SaveOptions{Files: map[string][]byte{tailFile: hm.tailGraph}})
				}
				return hm.trained.Save(dir) // with its curves and mistakes
			}
			return head.Save(dir, hm.m)
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return store, trainer(func() *head.TextEncoder {
		if be := backend(); be != nil {
			return be.textEncoder()
		}
		return nil
	}, func() *servedTails {
		if be := backend(); be != nil {
			return be.tails
		}
		return nil
	}), nil
}

// headModel adapts *head.Model to serve.Head. trained is set for a head
// a training job just made, so its curves and mistakes are saved with it.
type headModel struct {
	m       *head.Model
	info    serve.HeadInfo
	trained *head.Trained
	// tail is the key of the head's tail ("" for a plain head);
	// tailGraph its tail.onnx when a training job just made it.
	tail      string
	tailGraph []byte
}

func newHeadModel(m *head.Model) *headModel {
	meta := m.Meta()
	info := serve.HeadInfo{
		Kind:                 meta.Head.Kind,
		Normalize:            meta.Encoder.Normalize,
		EncoderName:          meta.Encoder.Name,
		EncoderDigest:        meta.Encoder.Digest,
		EncoderQuantizedFrom: meta.Encoder.QuantizedFrom,
		Pooling:              meta.Encoder.Pooling,
		Params:               meta.Params.Total,
	}
	for _, split := range []string{"test", "validation", "val"} {
		if mt := meta.Metrics[split]; mt != nil {
			info.MetricsSplit = split
			info.Metrics = map[string]float64{}
			for _, name := range []string{"accuracy", "macro_f1", "weighted_f1", "auc", "log_loss", "ece"} {
				if v, ok := mt.Value(name); ok {
					info.Metrics[name] = v
				}
			}
			break
		}
	}
	if h := meta.Curves; h != nil && len(h.Points) > 0 {
		c := &serve.Curves{Step: h.Step, Metric: h.Metric}
		for _, p := range h.Points {
			vl, vm := math.NaN(), math.NaN()
			if h.Validation {
				vl, vm = p.ValLoss, p.ValMetric
			}
			c.Epoch = append(c.Epoch, p.Epoch)
			c.TrainLoss = append(c.TrainLoss, serve.JSONFloat(p.TrainLoss))
			c.ValLoss = append(c.ValLoss, serve.JSONFloat(vl))
			c.ValMetric = append(c.ValMetric, serve.JSONFloat(vm))
		}
		info.Curves = c
	}
	if d := meta.Diagnosis; d != nil {
		info.Diagnosis = d.Summary
	}
	return &headModel{m: m, info: info}
}

func (h *headModel) Labels() []string                                 { return h.m.Labels() }
func (h *headModel) Dim() int                                         { return h.m.Dim() }
func (h *headModel) PredictProba(x [][]float32) ([][]float64, error)  { return h.m.PredictProba(x) }
func (h *headModel) PredictLogits(x [][]float32) ([][]float64, error) { return h.m.PredictLogits(x) }
func (h *headModel) Describe() serve.HeadInfo                         { return h.info }

// Tail is the key of the head's tail ("" for a plain head): serve runs it
// on the hidden state below the head's split.
func (h *headModel) Tail() string { return h.tail }

// trainer is the server's TrainFunc: the one training pipeline
// (head.Pipeline, as `bertserve train` runs it) with the server's encoder
// as its TextEncoder. The head it returns carries its curves and mistakes,
// which the heads store saves with it in one swap.
func trainer(encoderFor func() *head.TextEncoder, tailsFor func() *servedTails) serve.TrainFunc {
	return func(ctx context.Context, data *head.Labelled, cfg head.TrainConfig, progress func(head.Event)) (serve.Head, error) {
		te := encoderFor()
		if te == nil {
			return nil, errors.New("the model is not loaded yet")
		}
		p := head.Pipeline{Config: cfg, Encoder: te, Progress: progress}
		var src *tuneSource
		st := tailsFor()
		if cfg.Tuned() {
			if st == nil {
				return nil, errors.New("the model is not loaded yet")
			}
			// The hidden-state cache in the bertserve cache (writers lock it).
			src = &tuneSource{sp: st.sp, log: io.Discard}
			defer src.Close()
			p.Tails = src.source()
		}
		t, err := p.Run(ctx, head.Inputs{Train: data})
		if err != nil {
			return nil, err
		}
		hm := newHeadModel(t.Model)
		hm.trained = t
		if src != nil {
			if hm.tailGraph, err = buildTailGraph(t.Model, te.Info.Digest); err != nil {
				return nil, err
			}
			if err := checkTailGraph(st.sp, hm.tailGraph, t.Model, src.firstView()); err != nil {
				return nil, err
			}
			hm.tail = sha256Hex(hm.tailGraph)
			if err := st.register(hm.tail, t.Model.Meta().Tail.FirstLayer, hm.tailGraph); err != nil {
				return nil, err
			}
		}
		return hm, nil
	}
}

// textEncoder is the pipeline's seam over the server's encoder, through
// the embedding cache that `bertserve train` uses too (writers lock the
// file, so a CLI train may run beside the server): retraining a head on
// the same texts does no encoder work.
func (b *encoderBackend) textEncoder() *head.TextEncoder {
	return &head.TextEncoder{
		Info: headEncoderInfo(b.enc.Info(), b.modelDir),
		Embed: func(ctx context.Context, texts []string) (head.Embedded, error) {
			c, err := encoder.OpenCache("", b.enc.Info())
			if err != nil {
				return head.Embedded{}, err
			}
			defer c.Close()
			r, err := b.enc.EmbedCached(ctx, texts, c)
			if err != nil {
				return head.Embedded{}, err
			}
			return head.Embedded{Vectors: r.Vectors, Cached: r.Hits, Truncated: r.Truncated}, nil
		},
	}
}
