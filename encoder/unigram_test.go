package encoder

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// tinyVocab exercises every rule of both Viterbi variants: equal-score
// segmentations (o, oo, ooo), zero-score colon pieces like the USE vocab's,
// a reserved name that must not match, and a duplicate piece.
func tinyVocab() []UnigramPiece {
	return []UnigramPiece{
		{"\ufffd", 0},  // 0 unknown
		{"<s>", 0},     // 1 reserved
		{"▁", -2},      // 2
		{"o", -3},      // 3
		{"oo", -6},     // 4
		{"ooo", -9},    // 5
		{":", 0},       // 6 (a null score in the USE vocab)
		{"▁:", 0},      // 7
		{")", -5},      // 8
		{"q", -4},      // 9
		{"q", -4},      // 10 duplicate: the later id wins
		{"▁go", -3.5},  // 11
		{"d", -3},      // 12
		{"Full", -7.5}, // 13
	}
}

var useNormalizers = []Normalizer{
	{Type: "NFKC"},
	{Type: "Replace", Pattern: " ", Content: "▁"},
	{Type: "Prepend", Prepend: "▁"},
}

func newTiny(t testing.TB, viterbi string, trieMin int) *Unigram {
	t.Helper()
	u, err := NewUnigram(tinyVocab(), UnigramConfig{UnkID: 0, Normalizers: useNormalizers, Viterbi: viterbi, TrieMinID: trieMin})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUnigramSegmentation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, viterbi, text string
		trieMin             int
		want                []int64
	}{
		{"empty", ViterbiTFJS, "", 6, []int64{}},
		{"empty hf", ViterbiHF, "", 0, []int64{}},
		// All segmentations of "oooo" score -12: TF.js keeps the later
		// start at every tie, Hugging Face the earlier one.
		{"tie tfjs", ViterbiTFJS, "oooo", 2, []int64{2, 3, 3, 3, 3}},
		{"tie hf", ViterbiHF, "oooo", 2, []int64{2, 3, 5}},
		// "▁:" scores exactly 0, which TF.js takes for "unset" and
		// overwrites with the worse "▁" + ":".
		{"zero score tfjs", ViterbiTFJS, ":)", 2, []int64{2, 6, 8}},
		{"zero score hf", ViterbiHF, ":)", 2, []int64{7, 8}},
		// Inside the text the zero-score piece wins normally.
		{"colon inside", ViterbiTFJS, "o :)", 2, []int64{2, 3, 7, 8}},
		// Unknown characters become id 0; a run of them is fused.
		{"unknown fused", ViterbiTFJS, "go xyz😍d", 2, []int64{11, 2, 0, 12}},
		{"unknown fused hf", ViterbiHF, "go xyz😍d", 2, []int64{11, 2, 0, 12}},
		// Reserved ids below TrieMinID are never produced.
		{"reserved skipped", ViterbiTFJS, "<s>", 2, []int64{2, 0}},
		{"reserved matched", ViterbiHF, "<s>", 0, []int64{2, 1}},
		{"duplicate last wins", ViterbiTFJS, "q", 2, []int64{2, 10}},
		// NFKC folds full-width letters; spaces become ▁, one per space.
		{"nfkc", ViterbiTFJS, "ｇｏ　ｇｏ", 2, []int64{11, 11}},
		// A position no piece ends at keeps best = 0, so an unknown starting
		// there scores 0 in TF.js and beats every real path ("u", "l" have
		// no piece of their own). The USE vocab has every character of its
		// pieces as a piece, so this never happens with it.
		{"unreachable tfjs", ViterbiTFJS, "Full", 2, []int64{2, 0}},
		{"unreachable hf", ViterbiHF, "Full", 2, []int64{2, 13}},
		{"spaces", ViterbiTFJS, " go  ", 2, []int64{2, 11, 2, 2}},
		// A tab is not a space: it is unknown and the next word gets no ▁.
		{"tab", ViterbiTFJS, "go\tgo", 2, []int64{11, 0, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newTiny(t, tc.viterbi, tc.trieMin)
			got := u.Encode(tc.text, 0)
			if !slices.Equal(got.IDs, tc.want) {
				t.Fatalf("Encode(%q) = %v %q, want %v", tc.text, got.IDs, got.Tokens, tc.want)
			}
			if len(got.TypeIDs) != len(got.IDs) || len(got.Tokens) != len(got.IDs) || got.Truncated || got.InvalidUTF8 {
				t.Fatalf("Encode(%q) = %+v: lengths or flags wrong", tc.text, got)
			}
		})
	}
}

func TestUnigramTruncation(t *testing.T) {
	t.Parallel()
	u := newTiny(t, ViterbiTFJS, 2)
	full := u.Encode("o o o o", 0)
	if len(full.IDs) != 8 || full.Truncated {
		t.Fatalf("full encoding %v", full.IDs)
	}
	for _, maxLen := range []int{1, 3, 7} {
		got := u.Encode("o o o o", maxLen)
		if !got.Truncated || !slices.Equal(got.IDs, full.IDs[:maxLen]) {
			t.Errorf("maxLen %d: got %v (truncated %v), want the first %d of %v", maxLen, got.IDs, got.Truncated, maxLen, full.IDs)
		}
	}
	if got := u.Encode("o o o o", 8); got.Truncated || len(got.IDs) != 8 {
		t.Errorf("maxLen equal to the length truncated: %+v", got)
	}
}

func TestUnigramInvalidUTF8(t *testing.T) {
	t.Parallel()
	u := newTiny(t, ViterbiTFJS, 2)
	got := u.Encode("go\xff\xfe", 0)
	if !got.InvalidUTF8 || !slices.Equal(got.IDs, []int64{11, 0}) {
		t.Fatalf("got %+v", got)
	}
}

func TestUnigramPairAndPad(t *testing.T) {
	t.Parallel()
	u := newTiny(t, ViterbiTFJS, 2)
	if _, err := u.EncodePair("a", "b", 0); err == nil {
		t.Fatal("EncodePair succeeded on a tokenizer without a pair template")
	}
	if u.PadID() != 0 || u.VocabSize() != 14 {
		t.Fatalf("PadID %d VocabSize %d", u.PadID(), u.VocabSize())
	}
	if p, ok := u.Piece(13); !ok || p.Piece != "Full" {
		t.Fatalf("Piece(13) = %v %v", p, ok)
	}
	if _, ok := u.Piece(14); ok {
		t.Fatal("Piece(14) exists")
	}
}

func TestNewUnigramErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		vocab []UnigramPiece
		cfg   UnigramConfig
		want  string
	}{
		{"empty", nil, UnigramConfig{}, "empty vocabulary"},
		{"unk", tinyVocab(), UnigramConfig{UnkID: 99}, "unk id 99"},
		{"viterbi", tinyVocab(), UnigramConfig{Viterbi: "spm"}, "unknown Viterbi"},
		{"normalizer", tinyVocab(), UnigramConfig{Normalizers: []Normalizer{{Type: "Precompiled"}}}, "unsupported normalizer"},
	}
	for _, tc := range tests {
		if _, err := NewUnigram(tc.vocab, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestUnigramJSONRoundTrip(t *testing.T) {
	t.Parallel()
	data, err := MarshalUnigram(tinyVocab(), 0, useNormalizers, &UnigramExtension{Viterbi: ViterbiTFJS, TrieMinID: 2})
	if err != nil {
		t.Fatal(err)
	}
	u, err := ParseUnigram(data)
	if err != nil {
		t.Fatal(err)
	}
	ref := newTiny(t, ViterbiTFJS, 2)
	for _, s := range []string{"oooo", ":)", "go xyz😍d", "<s>", "ｇｏ  q"} {
		if got, want := u.Encode(s, 0).IDs, ref.Encode(s, 0).IDs; !slices.Equal(got, want) {
			t.Errorf("%q: parsed tokenizer gives %v, built one %v", s, got, want)
		}
	}
	// Without the extension the file is a plain Hugging Face Unigram.
	plain := bytes.Replace(data, []byte(`"bertserve"`), []byte(`"ignored"`), 1)
	hf, err := ParseUnigram(plain)
	if err != nil {
		t.Fatal(err)
	}
	if got := hf.Encode("oooo", 0).IDs; !slices.Equal(got, []int64{2, 3, 5}) {
		t.Errorf("plain file segments oooo as %v, want the Hugging Face [2 3 5]", got)
	}
}

func TestParseUnigramNullScoreAndErrors(t *testing.T) {
	t.Parallel()
	ok := `{"normalizer":null,"pre_tokenizer":null,"post_processor":null,"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",null],["b",-1]]}}`
	u, err := ParseUnigram([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := u.Piece(1); p.Score != 0 {
		t.Fatalf("null score parsed as %v", p.Score)
	}
	if got := u.Encode("ab", 0).IDs; !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("Encode(ab) = %v", got)
	}
	bad := []struct{ json, want string }{
		{`{`, "parsing tokenizer.json"},
		{`{"model":{"type":"WordPiece"}}`, `not "Unigram"`},
		{`{"pre_tokenizer":{"type":"Metaspace"},"model":{"type":"Unigram","vocab":[["a",0]]}}`, "pre_tokenizer"},
		{`{"post_processor":{"type":"TemplateProcessing"},"model":{"type":"Unigram","vocab":[["a",0]]}}`, "post_processor"},
		{`{"normalizer":{"type":"Precompiled"},"model":{"type":"Unigram","vocab":[["a",0]]}}`, "Precompiled"},
		{`{"normalizer":{"type":"Replace","pattern":{"Regex":" +"},"content":" "},"model":{"type":"Unigram","vocab":[["a",0]]}}`, "regex"},
		{`{"model":{"type":"Unigram","byte_fallback":true,"vocab":[["a",0]]}}`, "byte_fallback"},
		{`{"model":{"type":"Unigram","vocab":[["a"]]}}`, "[piece, score]"},
		{`{"model":{"type":"Unigram","vocab":[]}}`, "empty vocabulary"},
	}
	for _, b := range bad {
		if _, err := ParseUnigram([]byte(b.json)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseUnigram(%s) err = %v, want it to mention %q", b.json, err, b.want)
		}
	}
}

func TestLoadUnigramMissingFile(t *testing.T) {
	t.Parallel()
	if _, err := LoadUnigram(t.TempDir() + "/nope.json"); err == nil {
		t.Fatal("no error for a missing file")
	}
}

// FuzzUnigramEncode checks, for any input, that encoding does not panic,
// gives ids inside the vocabulary, and that without unknowns the pieces
// spell out exactly the normalized text.
func FuzzUnigramEncode(f *testing.F) {
	for _, s := range []string{"", "oooo", ":)", " :): ", "go\tgo", "Ｆｕｌｌ", "ｇｏ", "\xff", "😍😍", "<s>q"} {
		f.Add(s)
	}
	tfjs := newTiny(f, ViterbiTFJS, 2)
	hf := newTiny(f, ViterbiHF, 2)
	f.Fuzz(func(t *testing.T, s string) {
		for _, u := range []*Unigram{tfjs, hf} {
			enc := u.Encode(s, 0)
			var b strings.Builder
			unk := false
			for i, id := range enc.IDs {
				if id < 0 || int(id) >= u.VocabSize() {
					t.Fatalf("%q: id %d out of range", s, id)
				}
				if i > 0 && id == 0 && enc.IDs[i-1] == 0 {
					t.Fatalf("%q: unknowns not fused: %v", s, enc.IDs)
				}
				unk = unk || id == 0
				b.WriteString(enc.Tokens[i])
			}
			norm := u.Normalize(strings.ToValidUTF8(s, "\uFFFD"))
			if !unk && b.String() != norm {
				t.Fatalf("%q: pieces %q spell %q, normalized text is %q", s, enc.Tokens, b.String(), norm)
			}
			if norm != "" && len(enc.IDs) == 0 {
				t.Fatalf("%q: no ids for non-empty text", s)
			}
			if enc.InvalidUTF8 == utf8.ValidString(s) {
				t.Fatalf("%q: InvalidUTF8 = %v", s, enc.InvalidUTF8)
			}
		}
	})
}
