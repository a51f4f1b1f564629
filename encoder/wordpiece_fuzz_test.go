package encoder

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzWordPieceEncode feeds arbitrary bytes to Encode and EncodePair: they
// must not panic, must return ids within the vocabulary with their tokens,
// respect maxLen, flag invalid UTF-8, and keep the template's special
// tokens at the ends when they fit.
func FuzzWordPieceEncode(f *testing.F) {
	for _, s := range []string{"", "unaffable", "CAFÉ[SEP]x", "a\xffb\xc3", "你好 😀 \u200b\u0301", "[MASK][MASK", "\x00\t\n\r"} {
		f.Add(s, 0, uint8(3))
		f.Add(s, 4, uint8(1))
	}
	toks := []*WordPiece{wpTiny(f, nil)}
	if p := filepath.Join(CacheDir(), "vocab", "bert-base-uncased", "tokenizer.json"); fileExists(p) {
		w, err := LoadWordPiece(p)
		if err != nil {
			f.Fatal(err)
		}
		toks = append(toks, w)
	}
	f.Fuzz(func(t *testing.T, text string, maxLen int, split uint8) {
		if maxLen < 0 || maxLen > 1<<16 {
			maxLen = 0
		}
		for _, w := range toks {
			enc := w.Encode(text, maxLen)
			checkEncodingShape(t, w, "Encode", enc, maxLen)
			if enc.InvalidUTF8 == utf8.ValidString(text) {
				t.Fatalf("InvalidUTF8=%v for %q", enc.InvalidUTF8, text)
			}
			if len(enc.IDs) < min(2, max(maxLen, 2)) && maxLen != 1 {
				t.Fatalf("lost the special tokens: %v", enc.Tokens)
			}
			if len(enc.IDs) >= 2 && (enc.Tokens[0] != "[CLS]" || enc.Tokens[len(enc.Tokens)-1] != "[SEP]") && !enc.Truncated {
				t.Fatalf("special tokens missing: %q", enc.Tokens)
			}
			k := int(split) % (len(text) + 1)
			pair, err := w.EncodePair(text[:k], text[k:], maxLen)
			if err != nil {
				t.Fatal(err)
			}
			checkEncodingShape(t, w, "EncodePair", pair, maxLen)
		}
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// FuzzParseWordPiece feeds arbitrary bytes to the tokenizer.json parser: it
// must return a tokenizer or an error, never panic, and a tokenizer it
// returns must encode.
func FuzzParseWordPiece(f *testing.F) {
	f.Add([]byte(`{"normalizer": {"type": "BertNormalizer", "lowercase": true, "strip_accents": null},
		"pre_tokenizer": {"type": "BertPreTokenizer"},
		"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
			"pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
			"special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}}},
		"added_tokens": [{"id": 2, "content": "[CLS]", "special": true, "normalized": true}],
		"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 1, "[CLS]": 2, "a": 3, "##b": 4}}}`))
	f.Add([]byte(`{"pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
		"model": {"unk_token": 5, "vocab": {"[UNK]": 1.5}}, "decoder": {"type": "WordPiece"}}`))
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": []}}`))
	f.Add([]byte(`{"pre_tokenizer":{"type":"BertPreTokenizer"},"added_tokens":[{}],"model":{"type":"WordPiece","vocab":{"[UNK]":0}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := ParseWordPiece(data)
		if err != nil {
			return
		}
		// Templates may carry any type id, so only lengths and ids are
		// checked here.
		check := func(enc Encoding, maxLen int) {
			if len(enc.IDs) != len(enc.TypeIDs) || len(enc.IDs) != len(enc.Tokens) || (maxLen > 0 && len(enc.IDs) > maxLen) {
				t.Fatalf("inconsistent encoding %+v", enc)
			}
			for _, id := range enc.IDs {
				if _, ok := w.IDToToken(id); !ok {
					t.Fatalf("id %d has no token", id)
				}
			}
		}
		for _, s := range []string{"", "ab a[CLS]", "\xff"} {
			check(w.Encode(s, 0), 0)
			enc, err := w.EncodePair(s, s, 3)
			if err != nil {
				t.Fatal(err)
			}
			check(enc, 3)
		}
	})
}
