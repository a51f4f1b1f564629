package encoder_test

import (
	"fmt"

	"github.com/bertserve/bertserve/encoder"
)

// A unigram tokenizer picks the highest-scoring split of the normalized
// text into pieces. ViterbiTFJS reproduces the TF.js Universal Sentence
// Encoder tokenizer, whose ties go to the shorter last piece. Characters
// that no piece covers become the unknown id.
func ExampleNewUnigram() {
	vocab := []encoder.UnigramPiece{
		{Piece: "<unk>", Score: 0},
		{Piece: "▁", Score: -2},
		{Piece: "▁hell", Score: -8},
		{Piece: "o", Score: -3},
		{Piece: "▁hello", Score: -12},
		{Piece: "▁world", Score: -9},
		// Every character of a piece is a piece too, as in real
		// SentencePiece vocabularies.
		{Piece: "h", Score: -5}, {Piece: "e", Score: -5}, {Piece: "l", Score: -5},
		{Piece: "w", Score: -5}, {Piece: "r", Score: -5}, {Piece: "d", Score: -5},
	}
	tok, err := encoder.NewUnigram(vocab, encoder.UnigramConfig{
		UnkID: 0,
		Normalizers: []encoder.Normalizer{
			{Type: "NFKC"},
			{Type: "Replace", Pattern: " ", Content: "▁"},
			{Type: "Prepend", Prepend: "▁"},
		},
		Viterbi:   encoder.ViterbiTFJS,
		TrieMinID: 1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	enc := tok.Encode("hello ｗｏｒｌｄ!", 0)
	fmt.Println(enc.IDs, enc.Tokens)
	enc = tok.Encode("hello world hello", 2)
	fmt.Println(enc.IDs, enc.Truncated)
	// Output:
	// [2 3 5 0] [▁hell o ▁world <unk>]
	// [2 3] true
}
