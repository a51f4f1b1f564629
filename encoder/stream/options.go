package stream

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// Options are everything that can change a bit of an embedding run's
// output. Their digest is recorded in checkpoints and shard manifests: a
// partial output or a shard is only ever continued or merged with others
// made with the same Options. Threads are left out: they change the
// speed, not the bits (tested).
type Options struct {
	Model           string `json:"model"`
	ModelDigest     string `json:"model_digest"`
	TokenizerDigest string `json:"tokenizer_digest"`
	Dim             int    `json:"dim"`
	Pooling         string `json:"pooling"`
	Normalize       bool   `json:"normalize"`
	MaxLength       int    `json:"max_length"`
	BatchTokens     int    `json:"batch_tokens"`
	MaxBatch        int    `json:"max_batch"`
	ChunkRows       int    `json:"chunk_rows"`
	Device          string `json:"device"`
	InputFormat     string `json:"input_format"`
	TextColumn      string `json:"text_column"`
	Output          string `json:"output"`
	Shards          int    `json:"shards"`
}

// Digest is the sha256 of the options' JSON.
func (o Options) Digest() string {
	b, _ := json.Marshal(o)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// differences lists the fields where got differs from want, by their JSON
// names ("pooling mean, want cls").
func (o Options) differences(want Options) string {
	var d []string
	a, b := reflect.ValueOf(o), reflect.ValueOf(want)
	for i := range a.NumField() {
		x, y := a.Field(i).Interface(), b.Field(i).Interface()
		if x != y {
			name := strings.Split(a.Type().Field(i).Tag.Get("json"), ",")[0]
			d = append(d, fmt.Sprintf("%s %s (this run: %s)", name, show(y), show(x)))
		}
	}
	return strings.Join(d, ", ")
}

func show(v any) string {
	s := fmt.Sprint(v)
	if len(s) == 64 && strings.Trim(s, "0123456789abcdef") == "" {
		return s[:12] + "…"
	}
	if s == "" {
		return `""`
	}
	return s
}

// tokenizerFiles are the files of a model directory that decide its
// tokenization; model.onnx is covered by the encoder's digest.
var tokenizerFiles = []string{"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"}

// tokenizerDigest hashes the tokenizer files present in a model directory
// ("" for no directory).
func tokenizerDigest(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	h := sha256.New()
	for _, name := range tokenizerFiles {
		f, err := os.Open(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00", name)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
