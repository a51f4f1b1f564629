package serve

import (
	"fmt"
	"log/slog"
	"time"
)

// Config configures New. Only Embedder is needed to serve embeddings; the
// zero value of every other field is a sensible default.
type Config struct {
	// Embedder is the encoder. It may be nil at New and set later with
	// SetEmbedder, so the server can answer /health while the model loads.
	Embedder Embedder
	// Store persists heads (nil: heads live in memory only and training
	// jobs cannot save their result).
	Store HeadStore
	// Train trains heads for POST /v1/heads/{name}/train (nil: the route
	// answers 501).
	Train TrainFunc
	// Logger receives request and job logs (default slog.Default()).
	Logger *slog.Logger
	// Version is reported by /info.
	Version string

	// MaxBatchTokens bounds the tokens of one encoder call across merged
	// requests (default 16384). A single request over the budget still runs,
	// alone.
	MaxBatchTokens int
	// MaxBatchRequests bounds the requests merged into one encoder call
	// (default 32; 1 turns cross-request batching off).
	MaxBatchRequests int
	// MaxWait is how long the batcher waits for more requests to fill a
	// batch once the first one arrived (default 2ms; negative: 0).
	MaxWait time.Duration
	// Workers is the number of encoder calls in flight at once (default 1:
	// the encoder already uses every core for one call).
	Workers int
	// MaxConcurrentRequests bounds the inference requests being served at
	// once; one more is answered 429 with Retry-After at once (default 512).
	MaxConcurrentRequests int
	// MaxClientBatch bounds the inputs of one request (default 32, 413 over).
	MaxClientBatch int
	// PayloadLimit bounds a JSON request body in bytes (default 2 MB, 413
	// over).
	PayloadLimit int64
	// UploadLimit bounds a training upload in bytes (default 64 MiB).
	UploadLimit int64
	// MaxTrainExamples bounds the rows of one training upload (default
	// 1,000,000).
	MaxTrainExamples int
	// RequestTimeout bounds one inference request once it has been read,
	// queue included (default 30s): 503 when it never reached the
	// encoder, 504 when it did.
	RequestTimeout time.Duration
	// ReadTimeout bounds reading a request's headers and its JSON body
	// (default 30s; 408 beyond), UploadTimeout a training upload (default
	// 10 minutes). A request holds an inference slot only once it is read
	// and parsed, so slow senders cannot starve the others.
	ReadTimeout, UploadTimeout time.Duration

	// AdminToken guards train, delete and cancel ("Authorization: Bearer
	// <token>"). Empty disables those routes: they answer 403.
	AdminToken string
	// APIKey, when set, is required on the read routes (classify, embed,
	// tokenize, info, heads, jobs); the admin token is accepted too.
	APIKey string

	// NoAutoTruncate turns TEI's auto-truncation off: an input over the
	// model's maximum length is then a 413 unless its request says
	// "truncate": true. By default (false) over-long inputs are cut, as
	// TEI's --auto-truncate does, and counted in
	// bertserve_truncated_inputs_total.
	NoAutoTruncate bool
	// DefaultHead is the head that POST /, POST /predict and /v1/classify
	// without a head use. Empty: the only loaded head, if exactly one is
	// (with none or several, POST / embeds, as TEI for an embedding model).
	DefaultHead string

	// HeadsRefresh, when positive, rereads the Store (a StampedStore, such
	// as DirStore) that often: heads trained, replaced or deleted by other
	// servers on the same heads directory appear, change or disappear here
	// (RefreshHeads). Zero: the heads are read once, at LoadHeads.
	HeadsRefresh time.Duration

	// ForceHeads serves heads trained on another encoder (or pooling) of
	// the same dimension, as `--force` does for the CLI.
	ForceHeads bool

	// MaxJobs is the number of training jobs that run at once (default 1);
	// MaxPendingJobs bounds those waiting (default 4; beyond it, 429).
	MaxJobs, MaxPendingJobs int
	// JobRetention is how many finished jobs stay visible (default 100).
	JobRetention int
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxBatchTokens, 16384)
	def(&c.MaxBatchRequests, 32)
	def(&c.Workers, 1)
	def(&c.MaxConcurrentRequests, 512)
	def(&c.MaxClientBatch, 32)
	def(&c.MaxTrainExamples, 1_000_000)
	def(&c.MaxJobs, 1)
	def(&c.MaxPendingJobs, 4)
	def(&c.JobRetention, 100)
	if c.MaxWait == 0 {
		c.MaxWait = 2 * time.Millisecond
	}
	if c.MaxWait < 0 {
		c.MaxWait = 0
	}
	if c.PayloadLimit <= 0 {
		c.PayloadLimit = 2_000_000
	}
	if c.UploadLimit <= 0 {
		c.UploadLimit = 64 << 20
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.UploadTimeout <= 0 {
		c.UploadTimeout = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return c
}

func (c Config) validate() error {
	if c.AdminToken != "" && len(c.AdminToken) < 8 {
		return fmt.Errorf("admin token is %d characters; use at least 8 (e.g. `openssl rand -hex 16`)", len(c.AdminToken))
	}
	if c.AdminToken != "" && c.AdminToken == c.APIKey {
		return fmt.Errorf("the admin token and the API key are the same; the API key would then grant admin rights")
	}
	return nil
}
