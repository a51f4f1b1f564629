package uselite_test

import (
	"fmt"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models/uselite"
)

// TokenizerJSON writes the tokenizer.json of the model directory;
// encoder.ParseUnigram (or encoder.LoadTokenizer on the directory) reads it
// back with the package's exact segmentation rules. Here a six-piece
// stand-in for the 8,000-piece vocabulary: a leading ':' is split off
// because the zero-score piece "▁:" counts as "unset" in the JavaScript
// tokenizer.
func ExampleTokenizerJSON() {
	vocab := []encoder.UnigramPiece{
		{Piece: "\ufffd"}, {Piece: "<s>"}, {Piece: "</s>"},
		{Piece: "extra_token_id_1"}, {Piece: "extra_token_id_2"}, {Piece: "extra_token_id_3"},
		{Piece: "▁", Score: -4}, {Piece: ":", Score: 0}, {Piece: "▁:", Score: 0},
		{Piece: ")", Score: -6}, {Piece: "▁hi", Score: -7},
		{Piece: "h", Score: -9}, {Piece: "i", Score: -9},
	}
	data, err := uselite.TokenizerJSON(vocab)
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := encoder.ParseUnigram(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, text := range []string{"hi :)", ":) hi", "<s>"} {
		enc := tok.Encode(text, uselite.MaxLength)
		fmt.Printf("%q -> %v %q\n", text, enc.IDs, enc.Tokens)
	}
	// Output:
	// "hi :)" -> [10 8 9] ["▁hi" "▁:" ")"]
	// ":) hi" -> [6 7 9 10] ["▁" ":" ")" "▁hi"]
	// "<s>" -> [6 0] ["▁" "�"]
}
