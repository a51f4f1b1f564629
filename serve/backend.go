package serve

import (
	"context"
	"time"

	"github.com/bertserve/bertserve/head"
)

// Embedder is the encoder as the server sees it. *encoder.Encoder satisfies
// it through a small adapter in cmd/bertserve; tests use fakes.
//
// Implementations must be safe for concurrent use.
type Embedder interface {
	// Embed returns one vector per text, in input order. An embedding must
	// not depend on its batch-mates: the batcher merges texts of unrelated
	// requests into one call. Over-long texts are truncated.
	Embed(ctx context.Context, texts []string) (*Embeddings, error)
	// Tokenize splits one text into tokens, special tokens included.
	// maxLen counts special tokens; 0 means no limit.
	Tokenize(text string, maxLen int) Tokens
	// Info describes the model.
	Info() ModelInfo
}

// TokenEmbedder is an Embedder that also embeds token ids as given (no
// special tokens added, nothing truncated), in the model's vocabulary of
// ModelInfo.VocabSize ids. The server uses it for token-id inputs and for
// left truncation; without it those requests are refused with 422.
type TokenEmbedder interface {
	EmbedIDs(ctx context.Context, ids [][]int64) (*Embeddings, error)
}

// Embeddings is what Embed returns.
type Embeddings struct {
	// Vectors[i] is the embedding of texts[i].
	Vectors [][]float32
	// TokenCounts[i] is the number of tokens of texts[i] after truncation,
	// special tokens included. Optional: when nil, the server's own counts
	// are used.
	TokenCounts []int
	// TokenizeTime and InferenceTime split the call's wall time; zero
	// InferenceTime means "unknown", and the wall time is used.
	TokenizeTime, InferenceTime time.Duration
	// Tails[i] holds the tail outputs of texts[i] by tail key
	// (TailEmbedder.EmbedNeeds); nil from Embed.
	Tails []map[string][]float32
}

// Tokens is one tokenized text.
type Tokens struct {
	IDs    []int64
	Tokens []string
	// Special[i] is true for tokens the tokenizer added ([CLS], [SEP], ...).
	Special []bool
	// Truncated is true when tokens were dropped to fit maxLen.
	Truncated bool
}

// ModelInfo describes the encoder, for /info and for checks.
type ModelInfo struct {
	Name   string
	Digest string
	// DType is "float32" or "int8"; QuantizedFrom, for an int8 model, the
	// digest of the float32 model it was quantized from.
	DType         string
	QuantizedFrom string
	Dim           int
	MaxLength     int
	Pooling       string
	// VocabSize is the number of token ids (0: unknown, ids unchecked).
	VocabSize int
	// Normalized is true when Embed already returns L2-normalised vectors.
	// The server normalises on its own where a request or a head asks for
	// it, so an encoder opened without normalisation serves both.
	Normalized bool
	Device     string
}

// Head is one classifier over embeddings. *head.Model satisfies it through
// an adapter in cmd/bertserve. Implementations must be safe for concurrent
// use; the server never mutates a Head, it only swaps one for another.
type Head interface {
	Labels() []string
	// Dim is the embedding dimension the head expects.
	Dim() int
	// PredictProba returns one probability row per input row, columns in
	// Labels order.
	PredictProba(x [][]float32) ([][]float64, error)
	// Describe returns what GET /v1/heads/{name} shows.
	Describe() HeadInfo
}

// LogitHead is a Head that also gives its raw scores (logits, before the
// softmax), for function_to_apply "none" and "sigmoid" and TEI's
// raw_scores. Heads without it answer those from log-probabilities, which
// equal the logits up to a constant per input.
type LogitHead interface {
	PredictLogits(x [][]float32) ([][]float64, error)
}

// HeadInfo is a head's metadata as the API shows it.
type HeadInfo struct {
	// Kind is softmax, mlp, ...
	Kind string `json:"kind,omitempty"`
	// Normalize is true when the head was trained on L2-normalised
	// embeddings; the server normalises inputs for it.
	Normalize     bool   `json:"normalize"`
	EncoderName   string `json:"encoder,omitempty"`
	EncoderDigest string `json:"encoder_digest,omitempty"`
	// EncoderQuantizedFrom is, for a head trained on an int8 encoder, the
	// digest of the float32 encoder that was quantized.
	EncoderQuantizedFrom string `json:"encoder_quantized_from,omitempty"`
	Pooling              string `json:"pooling,omitempty"`
	// Metrics are final metrics (accuracy, macro_f1, log_loss, ...).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Curves are per-epoch losses, for the loss-curve picture.
	Curves    *Curves   `json:"curves,omitempty"`
	TrainedAt time.Time `json:"trained_at,omitzero"`
	// MetricsSplit names the data Metrics were measured on ("validation",
	// "test").
	MetricsSplit string `json:"metrics_split,omitempty"`
	// Params counts trainable parameters.
	Params int `json:"params,omitempty"`
	// Diagnosis is a plain-language reading of the curves, when known.
	Diagnosis string `json:"diagnosis,omitempty"`
}

// Curves are per-epoch training figures. All slices have the same length;
// a value that was not measured is NaN (sent as null).
type Curves struct {
	Epoch     []int       `json:"epoch"`
	TrainLoss []JSONFloat `json:"train_loss"`
	ValLoss   []JSONFloat `json:"val_loss"`
	// Step is "epoch", or "iteration" for full-batch optimizers.
	Step string `json:"step,omitempty"`
	// ValMetric is the validation metric named by Metric (accuracy unless
	// said otherwise).
	Metric    string      `json:"metric,omitempty"`
	ValMetric []JSONFloat `json:"val_metric"`
}

// HeadStore keeps heads on disk so they survive a restart. DirStore is the
// implementation the CLI uses.
type HeadStore interface {
	// Names lists the stored heads.
	Names() ([]string, error)
	Load(name string) (Head, error)
	// Save stores h under name, replacing any previous head atomically.
	Save(name string, h Head) error
	Delete(name string) error
}

// TrainFunc runs a training job: the labelled examples of an upload
// through the one training pipeline (head.Pipeline) with cfg, embedding
// them with the server's encoder. It must return promptly with ctx.Err()
// once ctx is cancelled, and report progress (embedding, epochs) through
// progress. The CLI wires head.Pipeline into it.
type TrainFunc func(ctx context.Context, data *head.Labelled, cfg head.TrainConfig, progress func(head.Event)) (Head, error)
