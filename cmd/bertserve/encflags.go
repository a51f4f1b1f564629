package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/bertserve/bertserve/encoder"
)

// encoderFlags are the flags of every command that runs the encoder.
type encoderFlags struct {
	model, ortLib, pooling, device string
	normalize                      bool
	maxLength, batchTokens         int
	threads                        int
}

func (f *encoderFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model directory (model.onnx + tokenizer.json); 'bertserve pull default' makes one")
	fs.StringVar(&f.ortLib, "ort-lib", "", "ONNX Runtime shared library (default $ONNXRUNTIME_LIB, then the setup cache)")
	fs.StringVar(&f.pooling, "pooling", "auto", "pooling: "+strings.Join(encoder.PoolingNames, "|"))
	fs.BoolVar(&f.normalize, "normalize", false, "L2-normalise embeddings")
	fs.IntVar(&f.maxLength, "max-length", 0, "max tokens per text, special tokens included (0: the model's limit)")
	fs.IntVar(&f.batchTokens, "batch-tokens", 8192, "max padded tokens per ONNX Runtime batch")
	fs.IntVar(&f.threads, "threads", 0, "ONNX Runtime intra-op threads (0: one per CPU)")
	fs.StringVar(&f.device, "device", "cpu", "cpu, cuda, cuda:N, or auto (CUDA if available, else CPU)")
}

func (f *encoderFlags) open() (*encoder.Encoder, error) {
	if f.model == "" {
		return nil, usagef("--model DIR is required (run `bertserve pull default` for the default model)")
	}
	if f.maxLength < 0 || f.batchTokens <= 0 || f.threads < 0 {
		return nil, usagef("--max-length, --batch-tokens and --threads must not be negative (--batch-tokens must be positive)")
	}
	enc, err := encoder.Open(encoder.Options{
		ModelDir:    f.model,
		LibPath:     f.ortLib,
		Pooling:     f.pooling,
		Normalize:   f.normalize,
		MaxLength:   f.maxLength,
		BatchTokens: f.batchTokens,
		Threads:     f.threads,
		Device:      f.device,
		Logger:      slog.Default(),
	})
	if err != nil {
		return nil, fmt.Errorf("opening the encoder: %w", err)
	}
	return enc, nil
}
