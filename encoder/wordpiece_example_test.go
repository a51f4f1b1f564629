package encoder_test

import (
	"fmt"

	"github.com/bertserve/bertserve/encoder"
)

// A WordPiece tokenizer from a vocabulary and the usual BERT pipeline:
// lowercasing and accent stripping, punctuation split off, words broken
// into the longest pieces the vocabulary has, [CLS] … [SEP] around.
func ExampleNewWordPiece() {
	vocab := map[string]int{"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3,
		"un": 4, "##aff": 5, "##able": 6, "cafe": 7, "!": 8}
	cfg := encoder.WordPieceConfig{
		CleanText: true, HandleChineseChars: true, Lowercase: true, StripAccents: true,
		UnkToken: "[UNK]", ContinuingSubwordPrefix: "##", PadToken: "[PAD]",
		AddedTokens: []encoder.AddedToken{{ID: 2, Content: "[CLS]"}, {ID: 3, Content: "[SEP]"}},
	}
	cfg.Single, cfg.Pair = encoder.BERTTemplate("[CLS]", 2, "[SEP]", 3)
	w, err := encoder.NewWordPiece(vocab, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	enc := w.Encode("Unaffable CAFÉ!", 0)
	fmt.Println(enc.Tokens)
	fmt.Println(enc.IDs)

	enc = w.Encode("Unaffable CAFÉ!", 4) // maxLen counts [CLS] and [SEP]
	fmt.Println(enc.Tokens, enc.Truncated)

	pair, _ := w.EncodePair("cafe", "un", 0)
	fmt.Println(pair.Tokens, pair.TypeIDs)
	// Output:
	// [[CLS] un ##aff ##able cafe ! [SEP]]
	// [2 4 5 6 7 8 3]
	// [[CLS] un ##aff [SEP]] true
	// [[CLS] cafe [SEP] un [SEP]] [0 0 0 1 1]
}
