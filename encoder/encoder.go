package encoder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// Options configures Open. The zero value of every field but ModelDir is a
// sensible default.
type Options struct {
	// ModelDir holds model.onnx and tokenizer.json (or vocab.txt), and
	// optionally config.json, 1_Pooling/config.json and bertserve.json.
	ModelDir string
	// LibPath is an explicit ONNX Runtime library (see FindLibrary).
	LibPath string
	// Pooling is auto (default), cls, mean, pooler or model.
	Pooling string
	// Normalize L2-normalises every embedding. Models whose bertserve.json
	// says "normalize": true (sentence-transformers models with a
	// Normalize module, such as all-MiniLM-L6-v2) are always normalized.
	Normalize bool
	// MaxLength caps tokens per text, special tokens included; 0 takes the
	// model's own limit (bertserve.json, else config.json, else 512).
	MaxLength int
	// BatchTokens caps the padded tokens (rows × longest row) of one ONNX
	// Runtime batch; default 8192.
	BatchTokens int
	// MaxBatch caps the rows of one batch; default 256.
	MaxBatch int
	// Threads is ONNX Runtime's intra-op thread count; 0 means one per CPU.
	Threads int
	// InterOpThreads is ONNX Runtime's inter-op thread count; default 1.
	InterOpThreads int
	// Device is cpu (default), cuda, cuda:N, or auto (CUDA when the runtime
	// has it, else CPU, with a log line saying which).
	Device string
	// Logger receives setup messages; default slog.Default().
	Logger *slog.Logger
}

// Info describes an open encoder.
type Info struct {
	Name      string `json:"name"`
	Digest    string `json:"digest"`
	Dim       int    `json:"dim"`
	MaxLength int    `json:"max_length"`
	Pooling   string `json:"pooling"`
	Normalize bool   `json:"normalize"`
	Device    string `json:"device"`
	// DType is the model's element type as its manifest says ("float32"
	// when it says nothing), and QuantizedFrom, for an int8 model, the
	// digest of the float32 model it was quantized from (for a fused
	// float32 model, the plain one it was rebuilt from).
	DType         string   `json:"dtype"`
	QuantizedFrom string   `json:"quantized_from,omitempty"`
	Inputs        []string `json:"inputs"`
	Outputs       []string `json:"outputs"`
}

// Result is the output of Embed.
type Result struct {
	// Vectors[i] is the embedding of texts[i].
	Vectors [][]float32
	// TokenCounts[i] is the number of tokens of texts[i] after truncation,
	// special tokens included.
	TokenCounts []int
	// Truncated counts texts cut to the maximum length.
	Truncated int
	// InvalidUTF8 counts texts whose invalid UTF-8 was replaced by U+FFFD.
	InvalidUTF8 int
	// PaddedTokens is the number of token slots sent to the model,
	// padding included.
	PaddedTokens int
	// Batches is the number of ONNX Runtime runs.
	Batches int
	// TokenizeTime and InferenceTime split the wall time of Embed.
	TokenizeTime, InferenceTime time.Duration
}

// Tokens is the number of real tokens across all texts.
func (r *Result) Tokens() int {
	n := 0
	for _, c := range r.TokenCounts {
		n += c
	}
	return n
}

// Encoder embeds text with one ONNX Runtime session. It is safe for
// concurrent use by many goroutines.
type Encoder struct {
	opts    Options
	info    Info
	tok     Tokenizer
	session *ort.DynamicAdvancedSession
	// hasTypeIDs is true when the graph takes token_type_ids.
	hasTypeIDs bool
	inputs     []string
	outputs    []string // the outputs we request, in session order
	pool       poolFunc
}

const (
	defaultBatchTokens = 8192
	defaultMaxBatch    = 256
	defaultMaxLength   = 512
)

// Open loads a model directory into an ONNX Runtime session.
func Open(opts Options) (*Encoder, error) {
	if opts.ModelDir == "" {
		return nil, errors.New("no model directory given: pass --model DIR (run `bertserve pull default` to get the default model)")
	}
	if opts.BatchTokens <= 0 {
		opts.BatchTokens = defaultBatchTokens
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.Threads <= 0 {
		opts.Threads = runtime.NumCPU()
	}
	if opts.InterOpThreads <= 0 {
		opts.InterOpThreads = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Pooling == "" {
		opts.Pooling = "auto"
	}
	modelPath := filepath.Join(opts.ModelDir, "model.onnx")
	model, err := os.ReadFile(modelPath)
	if err != nil {
		return nil, fmt.Errorf("reading the encoder: %w (a model directory holds model.onnx; see `bertserve pull` or `bertserve build-model`)", err)
	}
	inputs, outputs, err := graphIO(model)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	meta, err := readDirMeta(opts.ModelDir)
	if err != nil {
		return nil, err
	}
	tok, err := LoadTokenizer(opts.ModelDir)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(model)
	e := &Encoder{opts: opts, tok: tok, inputs: inputs}
	e.info = Info{Name: meta.Name, Digest: hex.EncodeToString(sum[:]), Normalize: opts.Normalize || meta.Normalize, Inputs: inputs,
		DType: meta.DType, QuantizedFrom: meta.QuantizedFrom}
	if e.info.DType == "" {
		e.info.DType = "float32"
	}

	for _, in := range inputs {
		switch in {
		case "input_ids", "attention_mask":
		case "token_type_ids":
			e.hasTypeIDs = true
		default:
			return nil, fmt.Errorf("%s: unsupported model input %q (want input_ids, attention_mask and optionally token_type_ids)", modelPath, in)
		}
	}
	if !slices.Contains(inputs, "input_ids") {
		return nil, fmt.Errorf("%s: the model has no input_ids input (inputs: %v)", modelPath, inputs)
	}
	pooling, output, err := resolvePooling(opts.Pooling, outputs, meta)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	e.info.Pooling = pooling
	e.outputs = []string{output}
	e.info.Outputs = outputs
	e.pool = poolers[pooling]

	e.info.MaxLength = opts.MaxLength
	if e.info.MaxLength <= 0 {
		e.info.MaxLength = meta.MaxLength
	}
	if e.info.MaxLength <= 0 {
		e.info.MaxLength = defaultMaxLength
	}
	if meta.MaxLength > 0 && e.info.MaxLength > meta.MaxLength {
		return nil, fmt.Errorf("--max-length %d exceeds the model's limit of %d positions", e.info.MaxLength, meta.MaxLength)
	}

	if err := InitRuntime(opts.LibPath); err != nil {
		return nil, err
	}
	so, device, err := sessionOptions(opts)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	e.info.Device = device
	e.session, err = ort.NewDynamicAdvancedSessionWithONNXData(model, e.inputNames(), e.outputs, so)
	if err != nil {
		return nil, fmt.Errorf("creating the ONNX Runtime session for %s: %w", modelPath, err)
	}
	// One probe run learns the embedding width and proves the graph runs.
	probe, err := e.Embed(context.Background(), []string{"probe"})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("%s: the model does not run: %w", modelPath, err)
	}
	e.info.Dim = len(probe.Vectors[0])
	return e, nil
}

func (e *Encoder) inputNames() []string {
	names := []string{"input_ids", "attention_mask"}
	if e.hasTypeIDs {
		names = append(names, "token_type_ids")
	}
	return names
}

// sessionOptions sets threads, graph optimisation and the execution
// provider, returning the device actually used.
func sessionOptions(opts Options) (*ort.SessionOptions, string, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, "", err
	}
	fail := func(err error) (*ort.SessionOptions, string, error) {
		so.Destroy()
		return nil, "", err
	}
	if err := so.SetIntraOpNumThreads(opts.Threads); err != nil {
		return fail(err)
	}
	if err := so.SetInterOpNumThreads(opts.InterOpThreads); err != nil {
		return fail(err)
	}
	if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		return fail(err)
	}
	dev := strings.ToLower(strings.TrimSpace(opts.Device))
	switch {
	case dev == "" || dev == "cpu":
		return so, "cpu", nil
	case dev == "auto" || dev == "cuda" || strings.HasPrefix(dev, "cuda:"):
		id := 0
		if strings.HasPrefix(dev, "cuda:") {
			n, err := strconv.Atoi(dev[len("cuda:"):])
			if err != nil || n < 0 {
				return fail(fmt.Errorf("bad --device %q: want cpu, cuda, cuda:N or auto", opts.Device))
			}
			id = n
		}
		if err := appendCUDA(so, id); err != nil {
			if dev == "auto" {
				opts.Logger.Info("CUDA is not available, running on CPU", "reason", err)
				return so, "cpu", nil
			}
			return fail(fmt.Errorf("--device %s: %w; this ONNX Runtime library has no usable CUDA execution provider: install the GPU build with `scripts/setup.sh --cuda` (needs CUDA 12 and cuDNN 9) or use --device cpu", opts.Device, err))
		}
		return so, fmt.Sprintf("cuda:%d", id), nil
	}
	return fail(fmt.Errorf("bad --device %q: want cpu, cuda, cuda:N or auto", opts.Device))
}

func appendCUDA(so *ort.SessionOptions, id int) error {
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer co.Destroy()
	if err := co.Update(map[string]string{"device_id": strconv.Itoa(id)}); err != nil {
		return err
	}
	return so.AppendExecutionProviderCUDA(co)
}

// Info describes the encoder.
func (e *Encoder) Info() Info { return e.info }

// Tokenizer is the encoder's tokenizer.
func (e *Encoder) Tokenizer() Tokenizer { return e.tok }

// Dim is the embedding width.
func (e *Encoder) Dim() int { return e.info.Dim }

// BatchLimits are the padded-token budget and the row cap of one ONNX
// Runtime batch (Options.BatchTokens and MaxBatch after defaults). With
// ChunkRows they fix how a chunk is cut into batches, so a resumed run
// that batches the same way reproduces the same bits for any model.
func (e *Encoder) BatchLimits() (tokens, rows int) { return e.opts.BatchTokens, e.opts.MaxBatch }

// Digest is the sha256 of model.onnx, hex encoded; heads record it.
func (e *Encoder) Digest() string { return e.info.Digest }

// Close releases the ONNX Runtime session.
func (e *Encoder) Close() error {
	if e.session == nil {
		return nil
	}
	err := e.session.Destroy()
	e.session = nil
	return err
}
