package uselite

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/bertserve/bertserve/encoder"
)

// reservedIDs is the number of leading vocabulary entries ("\uFFFD", <s>,
// </s>, extra_token_id_1..3) that the package's tokenizer never puts in
// its trie; id 0 doubles as the unknown id.
const reservedIDs = 6

// Normalizers are the steps of the package's processInput: NFKC, every
// U+0020 to U+2581, and a leading U+2581 on non-empty text.
var Normalizers = []encoder.Normalizer{
	{Type: "NFKC"},
	{Type: "Replace", Pattern: " ", Content: "▁"},
	{Type: "Prepend", Prepend: "▁"},
}

// ReadVocab reads the package's vocab.json: an array of [piece, score]
// pairs in id order. A null score (the 7 corrupt ':' entries) reads as 0,
// which is what null + x gives in JavaScript.
func ReadVocab(path string) ([]encoder.UnigramPiece, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the USE vocabulary: %w", err)
	}
	return parseVocab(raw, path)
}

func parseVocab(raw []byte, path string) ([]encoder.UnigramPiece, error) {
	var rows [][2]*json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("%s is not a [[piece, score], ...] array: %w", path, err)
	}
	if len(rows) <= reservedIDs {
		return nil, fmt.Errorf("%s has %d entries, want more than %d", path, len(rows), reservedIDs)
	}
	vocab := make([]encoder.UnigramPiece, len(rows))
	for i, r := range rows {
		if r[0] == nil || json.Unmarshal(*r[0], &vocab[i].Piece) != nil {
			return nil, fmt.Errorf("%s entry %d: the piece is not a string", path, i)
		}
		var score *float64
		if r[1] != nil {
			if err := json.Unmarshal(*r[1], &score); err != nil {
				return nil, fmt.Errorf("%s entry %d (%q): the score is not a number: %w", path, i, vocab[i].Piece, err)
			}
		}
		if score != nil {
			vocab[i].Score = *score
		}
	}
	return vocab, nil
}

// TokenizerJSON turns the vocabulary into the tokenizer.json of the model
// directory: a Hugging Face Unigram model (normalizer NFKC, Replace " " ->
// "▁", Prepend "▁"; no pre-tokenizer; no special tokens) plus the
// "bertserve" object that makes encoder.LoadUnigram segment exactly like
// the TF.js package. The reserved names of ids 1..5 get a leading space so
// that Hugging Face tooling, which puts every entry in its trie, can never
// match "<s>" in a text (the normalizer removes every U+0020).
func TokenizerJSON(vocab []encoder.UnigramPiece) ([]byte, error) {
	v := make([]encoder.UnigramPiece, len(vocab))
	copy(v, vocab)
	for i := 1; i < reservedIDs && i < len(v); i++ {
		v[i].Piece = " " + v[i].Piece
	}
	return encoder.MarshalUnigram(v, 0, Normalizers, &encoder.UnigramExtension{
		Viterbi:   encoder.ViterbiTFJS,
		TrieMinID: reservedIDs,
		PadID:     0,
		Note:      "bertserve segments with the TF.js tokenizer of @energetic-ai/embeddings@0.2.0 (ties to the later start, a zero path score counts as unset, ids below 6 never produced); Hugging Face tokenizers, reading only the standard fields, differ on exact score ties and on text that starts with ':'",
	})
}
