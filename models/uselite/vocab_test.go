package uselite

import (
	"slices"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder"
)

func TestParseVocab(t *testing.T) {
	t.Parallel()
	raw := `[["\ufffd",0],["<s>",0],["</s>",0],["extra_token_id_1",0],["extra_token_id_2",0],["extra_token_id_3",0],
		[".",-3.28450870514],[":",null],["▁:",null],["▁",-4.5],[")",-6],["▁hi",-7.25],["h",-9],["i",-9]]`
	v, err := parseVocab([]byte(raw), "vocab.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 14 || v[6].Score != -3.28450870514 || v[7].Score != 0 || v[7].Piece != ":" || v[11].Piece != "▁hi" {
		t.Fatalf("parsed %v", v)
	}
	data, err := TokenizerJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := encoder.ParseUnigram(data)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := tok.Piece(1); p.Piece != " <s>" {
		t.Errorf("id 1 stored as %q, want the reserved name with a leading space", p.Piece)
	}
	if p, _ := tok.Piece(0); p.Piece != "\ufffd" {
		t.Errorf("id 0 stored as %q", p.Piece)
	}
	// The TF.js rules: a leading ':' is split off ("▁:" scores 0, which
	// counts as unset), reserved ids are never produced.
	for text, want := range map[string][]int64{
		":)":    {9, 7, 10},
		"hi :)": {11, 8, 10},
		"<s>.":  {9, 0, 6},
		"":      {},
	} {
		if got := tok.Encode(text, 0).IDs; !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestParseVocabErrors(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		`{}`:        "not a [[piece, score], ...] array",
		`[["a",0]]`: "want more than 6",
		`[[1,0],[1,0],[1,0],[1,0],[1,0],[1,0],[1,0]]`:                 "piece is not a string",
		`[["a","x"],["a",0],["a",0],["a",0],["a",0],["a",0],["a",0]]`: "score is not a number",
	} {
		if _, err := parseVocab([]byte(raw), "vocab.json"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseVocab(%s) err = %v, want it to mention %q", raw, err, want)
		}
	}
}

// FuzzParseVocab: any bytes either fail to parse or give a vocabulary that
// TokenizerJSON and encoder.ParseUnigram accept.
func FuzzParseVocab(f *testing.F) {
	f.Add([]byte(`[["\ufffd",0],["<s>",0],["</s>",0],["a",0],["b",0],["c",0],["▁",-1],[":",null]]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := parseVocab(raw, "vocab.json")
		if err != nil {
			return
		}
		data, err := TokenizerJSON(v)
		if err != nil {
			return // e.g. NaN cannot come from JSON, but be lenient about Inf
		}
		tok, err := encoder.ParseUnigram(data)
		if err != nil {
			t.Fatalf("TokenizerJSON wrote a file ParseUnigram rejects: %v", err)
		}
		tok.Encode("a b:c", 0)
	})
}
