package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// LoadTokenizer opens the tokenizer of a model directory: its
// tokenizer.json (WordPiece → LoadWordPiece, Unigram → LoadUnigram), else
// its vocab.txt with the optional tokenizer_config.json (BERT WordPiece).
// path may also name a tokenizer.json or vocab.txt file directly.
func LoadTokenizer(path string) (Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening tokenizer: %w", err)
	}
	file := path
	if st.IsDir() {
		file = filepath.Join(path, "tokenizer.json")
		if _, err := os.Stat(file); err != nil {
			vocab := filepath.Join(path, "vocab.txt")
			if _, verr := os.Stat(vocab); verr != nil {
				return nil, fmt.Errorf("%s has neither tokenizer.json nor vocab.txt; point --model at a model directory or a tokenizer file", path)
			}
			file = vocab
		}
	}
	if filepath.Ext(file) == ".txt" {
		return LoadWordPiece(file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("opening tokenizer: %w", err)
	}
	var head struct {
		Model   map[string]any `json:"model"`
		Decoder map[string]any `json:"decoder"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%s is not a tokenizer.json: %w", file, err)
	}
	if head.Model == nil {
		return nil, fmt.Errorf("%s has no \"model\"; is it a Hugging Face tokenizer.json?", file)
	}
	switch typ := modelType(head.Model, head.Decoder); typ {
	case "WordPiece":
		w, err := ParseWordPiece(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return w, nil
	case "Unigram":
		return LoadUnigram(file)
	case "":
		return nil, fmt.Errorf("%s: %w: model.type is missing and cannot be guessed", file, ErrUnsupportedTokenizer)
	default:
		return nil, fmt.Errorf("%s: %w %q (supported: WordPiece, Unigram)", file, ErrUnsupportedTokenizer, typ)
	}
}

// ErrUnsupportedTokenizer is returned (wrapped) for tokenizer.json files
// whose model type bertserve does not implement (BPE, WordLevel).
var ErrUnsupportedTokenizer = errors.New("unsupported tokenizer model type")
