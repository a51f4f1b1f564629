package encoder

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/sugarme/tokenizer/model"
	"github.com/sugarme/tokenizer/model/wordpiece"
)

// wpTinyVocab is a small BERT-style vocabulary for unit tests.
var wpTinyVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
	"un", "##aff", "##able", "the", "cafe", "café", "!", ",", ".", "a", "b", "##b", "你", "好",
	"hello", "world", "##s", "is", "'", "-", "x", "##x", "é", "##é",
}

func wpTinyConfig() WordPieceConfig {
	c := WordPieceConfig{CleanText: true, HandleChineseChars: true, StripAccents: true, Lowercase: true,
		UnkToken: "[UNK]", ContinuingSubwordPrefix: "##", MaxInputCharsPerWord: 100, PadToken: "[PAD]"}
	c.Single, c.Pair = BERTTemplate("[CLS]", 2, "[SEP]", 3)
	for i, t := range wpTinyVocab[:5] {
		c.AddedTokens = append(c.AddedTokens, AddedToken{ID: int64(i), Content: t})
	}
	return c
}

func wpTiny(t testing.TB, edit func(*WordPieceConfig)) *WordPiece {
	t.Helper()
	vocab := map[string]int{}
	for i, tok := range wpTinyVocab {
		vocab[tok] = i
	}
	c := wpTinyConfig()
	if edit != nil {
		edit(&c)
	}
	w, err := NewWordPiece(vocab, c)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWordPieceEncode(t *testing.T) {
	t.Parallel()
	uncased := wpTiny(t, nil)
	cased := wpTiny(t, func(c *WordPieceConfig) { c.Lowercase, c.StripAccents = false, false })
	long := strings.Repeat("x", 101)
	tests := []struct {
		name   string
		w      *WordPiece
		text   string
		maxLen int
		want   []string
		trunc  bool
		bad    bool
	}{
		{"empty", uncased, "", 0, []string{"[CLS]", "[SEP]"}, false, false},
		{"only spaces and controls", uncased, " \t\u200b\x00\n", 0, []string{"[CLS]", "[SEP]"}, false, false},
		{"wordpieces", uncased, "unaffable", 0, []string{"[CLS]", "un", "##aff", "##able", "[SEP]"}, false, false},
		{"unknown word is one [UNK]", uncased, "unaffablez the", 0, []string{"[CLS]", "[UNK]", "the", "[SEP]"}, false, false},
		{"lowercase and accents stripped", uncased, "CAFÉ Café", 0, []string{"[CLS]", "cafe", "cafe", "[SEP]"}, false, false},
		{"cased keeps accents", cased, "café cafe", 0, []string{"[CLS]", "café", "cafe", "[SEP]"}, false, false},
		{"combining accent composes nothing when cased", cased, "cafe\u0301", 0, []string{"[CLS]", "[UNK]", "[SEP]"}, false, false},
		{"punctuation isolated", uncased, "hello,world!", 0, []string{"[CLS]", "hello", ",", "world", "!", "[SEP]"}, false, false},
		{"cjk spaced", uncased, "a你好b", 0, []string{"[CLS]", "a", "你", "好", "b", "[SEP]"}, false, false},
		{"nbsp and ideographic space split", uncased, "a\u00a0b\u3000a", 0, []string{"[CLS]", "a", "b", "a", "[SEP]"}, false, false},
		{"zero width joins", uncased, "hel\u200blo", 0, []string{"[CLS]", "hello", "[SEP]"}, false, false},
		{"special tokens in text", uncased, "a[SEP]b [MASK]", 0, []string{"[CLS]", "a", "[SEP]", "b", "[MASK]", "[SEP]"}, false, false},
		{"special tokens are case sensitive", uncased, "[sep]", 0, []string{"[CLS]", "[UNK]", "[UNK]", "[UNK]", "[SEP]"}, false, false},
		{"101 chars is [UNK]", uncased, long, 0, []string{"[CLS]", "[UNK]", "[SEP]"}, false, false},
		{"100 chars is split", uncased, long[:100], 0, append(append([]string{"[CLS]", "x"}, repeat("##x", 99)...), "[SEP]"), false, false},
		{"truncated", uncased, "a b a b a b", 5, []string{"[CLS]", "a", "b", "a", "[SEP]"}, true, false},
		{"fits exactly", uncased, "a b a", 5, []string{"[CLS]", "a", "b", "a", "[SEP]"}, false, false},
		{"maxLen below specials", uncased, "a b", 1, []string{"[CLS]"}, true, false},
		{"maxLen equal to specials", uncased, "a b", 2, []string{"[CLS]", "[SEP]"}, true, false},
		{"invalid utf-8 replaced and removed", uncased, "a\xffb", 0, []string{"[CLS]", "a", "##b", "[SEP]"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := tt.w.Encode(tt.text, tt.maxLen)
			if !reflect.DeepEqual(enc.Tokens, tt.want) {
				t.Errorf("tokens %q, want %q", enc.Tokens, tt.want)
			}
			if enc.Truncated != tt.trunc || enc.InvalidUTF8 != tt.bad {
				t.Errorf("Truncated=%v InvalidUTF8=%v, want %v %v", enc.Truncated, enc.InvalidUTF8, tt.trunc, tt.bad)
			}
			checkEncodingShape(t, tt.w, tt.name, enc, tt.maxLen)
			for _, typ := range enc.TypeIDs {
				if typ != 0 {
					t.Errorf("single sequence has type id %d", typ)
				}
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestWordPieceEncodePair(t *testing.T) {
	t.Parallel()
	w := wpTiny(t, nil)
	tests := []struct {
		name   string
		a, b   string
		maxLen int
		want   []string
		types  []int64
	}{
		{"plain", "a", "b b", 0, []string{"[CLS]", "a", "[SEP]", "b", "b", "[SEP]"}, []int64{0, 0, 0, 1, 1, 1}},
		{"empty both", "", "", 0, []string{"[CLS]", "[SEP]", "[SEP]"}, []int64{0, 0, 1}},
		{"longer one cut", "a", "b b b b", 6, []string{"[CLS]", "a", "[SEP]", "b", "b", "[SEP]"}, []int64{0, 0, 0, 1, 1, 1}},
		{"both halved", "a a a a", "b b b b", 7, []string{"[CLS]", "a", "a", "[SEP]", "b", "b", "[SEP]"}, []int64{0, 0, 0, 0, 1, 1, 1}},
		{"odd token to the longer", "a a a a a", "b b b", 6, []string{"[CLS]", "a", "a", "[SEP]", "b", "[SEP]"}, []int64{0, 0, 0, 0, 1, 1}},
		{"below specials", "a", "b", 2, []string{"[CLS]", "[SEP]"}, []int64{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := w.EncodePair(tt.a, tt.b, tt.maxLen)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(enc.Tokens, tt.want) || !reflect.DeepEqual(enc.TypeIDs, tt.types) {
				t.Errorf("got %q %v, want %q %v", enc.Tokens, enc.TypeIDs, tt.want, tt.types)
			}
			checkEncodingShape(t, w, tt.name, enc, tt.maxLen)
		})
	}
}

func TestLongestFirst(t *testing.T) {
	t.Parallel()
	// Cases from Hugging Face's own test of the algorithm (limit 7).
	tests := []struct{ n1, n2, w1, w2 int }{
		{0, 0, 0, 0}, {0, 2, 0, 2}, {0, 8, 0, 7}, {2, 4, 2, 4}, {2, 8, 2, 5},
		{4, 4, 3, 4}, {4, 8, 3, 4}, {8, 0, 7, 0}, {8, 2, 5, 2}, {8, 4, 4, 3}, {8, 8, 3, 4},
	}
	for _, tt := range tests {
		g1, g2 := longestFirst(tt.n1, tt.n2, 7)
		if g1 > tt.n1 {
			g1 = tt.n1
		}
		if g2 > tt.n2 {
			g2 = tt.n2
		}
		if g1 != tt.w1 || g2 != tt.w2 {
			t.Errorf("longestFirst(%d, %d, 7) = %d, %d; want %d, %d", tt.n1, tt.n2, g1, g2, tt.w1, tt.w2)
		}
	}
}

func TestWordPieceAddedTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		added AddedToken
		text  string
		want  []string
	}{
		{"lstrip", AddedToken{ID: 4, Content: "[MASK]", LStrip: true}, "a  [MASK] b", []string{"a", "[MASK]", "b"}},
		{"rstrip", AddedToken{ID: 4, Content: "[MASK]", RStrip: true}, "a [MASK]  b", []string{"a", "[MASK]", "b"}},
		{"single word rejects inside a word", AddedToken{ID: 4, Content: "[MASK]", SingleWord: true}, "a[MASK]", []string{"a", "[UNK]", "[UNK]", "[UNK]"}},
		{"single word accepts alone", AddedToken{ID: 4, Content: "[MASK]", SingleWord: true}, "a [MASK]", []string{"a", "[MASK]"}},
		{"normalized token matches normalized text", AddedToken{ID: 40, Content: "XX", Normalized: true}, "aXxb xx", []string{"a", "XX", "b", "XX"}},
		{"raw token does not match normalized text", AddedToken{ID: 40, Content: "XX"}, "xx", []string{"x", "##x"}},
		{"normalized token that normalizes to nothing never matches", AddedToken{ID: 40, Content: "\u200b", Normalized: true}, "a\u200bb", []string{"a", "##b"}},
		{"longest match wins", AddedToken{ID: 4, Content: "[SEP][SEP]"}, "[SEP][SEP][SEP]", []string{"[SEP][SEP]", "[SEP]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wpTiny(t, func(c *WordPieceConfig) {
				c.AddedTokens = []AddedToken{{ID: 3, Content: "[SEP]"}, tt.added}
			})
			enc := w.Encode(tt.text, 0)
			checkEncodingShape(t, w, tt.name, enc, 0)
			if got := enc.Tokens[1 : len(enc.Tokens)-1]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("tokens %q, want %q", got, tt.want)
			}
		})
	}
}

// sugarWordPieceModel builds sugarme's WordPiece model on w's vocabulary.
func sugarWordPieceModel(t testing.TB, w *WordPiece) wordpiece.WordPiece {
	t.Helper()
	vocab := model.Vocab{}
	for tok, id := range w.vocab {
		vocab[tok] = int(id)
	}
	return wordpiece.NewWordPieceBuilder().Vocab(&vocab).UnkToken(w.cfg.UnkToken).
		ContinuingSubwordPrefix(w.cfg.ContinuingSubwordPrefix).MaxInputCharsPerWord(w.cfg.MaxInputCharsPerWord).Build()
}

func TestNewWordPieceErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewWordPiece(map[string]int{"a": 0}, WordPieceConfig{UnkToken: "[UNK]"}); err == nil || !strings.Contains(err.Error(), "[UNK]") {
		t.Errorf("missing unk token: err = %v", err)
	}
	if _, err := NewWordPiece(map[string]int{"[UNK]": 0}, WordPieceConfig{PadToken: "[PAD]"}); err == nil {
		t.Error("missing pad token: no error")
	}
	if _, err := NewWordPiece(map[string]int{"[UNK]": -1}, WordPieceConfig{}); err == nil {
		t.Error("negative id: no error")
	}
	bad := []TemplatePiece{{Sequence: "C"}}
	if _, err := NewWordPiece(map[string]int{"[UNK]": 0}, WordPieceConfig{Single: bad}); err == nil {
		t.Error("template sequence C: no error")
	}
}

// TestWordPieceMatchesSugarmeModel checks the greedy longest-match search
// against github.com/sugarme/tokenizer's WordPiece model on every word of
// real English and Chinese lines: the same algorithm, written differently.
func TestWordPieceMatchesSugarmeModel(t *testing.T) {
	if testing.Short() {
		t.Skip("compares 60k words with sugarme; skipped with -short")
	}
	t.Parallel()
	w := refTokenizer(t, refUncased)
	recs := readRefFile(t, filepath.Join("testdata", "tokref", "en.jsonl.gz"))
	data := &dataLines{dir: filepath.Join(sharedDir(t), "data"), files: map[string][][]byte{}}
	model := sugarWordPieceModel(t, w)
	sc := &wpScratch{}
	words := 0
	for i := range recs[:3000] {
		text, _ := data.inputs(t, &recs[i])
		norm := w.normalize(nil, text, sc)
		w.splitWords(norm, func(word []byte) {
			words++
			ours := w.appendWord(nil, word)
			toks, err := model.Tokenize(string(word))
			if err != nil {
				t.Fatalf("sugarme on %q: %v", word, err)
			}
			var theirs []int32
			for _, tk := range toks {
				theirs = append(theirs, int32(tk.Id))
			}
			if !reflect.DeepEqual(ours, theirs) {
				t.Errorf("word %q: ours %v, sugarme %v", word, ours, theirs)
			}
		})
	}
	t.Logf("%d words agree", words)
}

func TestWordPieceConcurrent(t *testing.T) {
	t.Parallel()
	w := wpTiny(t, nil)
	texts := []string{"unaffable", "hello, world!", "a你好b", "CAFÉ", "", "a b a b a b a"}
	want := make([]Encoding, len(texts))
	for i, s := range texts {
		want[i] = w.Encode(s, 6)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				k := (g + i) % len(texts)
				if got := w.Encode(texts[k], 6); !reflect.DeepEqual(got, want[k]) {
					errs <- texts[k]
					return
				}
				if _, err := w.EncodePair(texts[k], texts[(k+1)%len(texts)], 8); err != nil {
					errs <- err.Error()
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent Encode differs for %q", e)
	}
}

func TestLoadTokenizer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vocab := strings.Join(wpTinyVocab, "\n") + "\n"
	write("txt/vocab.txt", vocab)
	write("txtcased/vocab.txt", vocab)
	write("txtcased/tokenizer_config.json", `{"do_lower_case": false}`)
	write("bpe/tokenizer.json", `{"model": {"type": "BPE", "vocab": {}, "merges": []}}`)
	write("broken/tokenizer.json", `{"model": `)
	write("nomodel/tokenizer.json", `{"version": "1.0"}`)
	write("badnorm/tokenizer.json", `{"normalizer": {"type": "NFKC"}, "pre_tokenizer": {"type": "BertPreTokenizer"}, "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0}}}`)
	write("wp/tokenizer.json", `{"normalizer": {"type": "BertNormalizer", "lowercase": true, "strip_accents": null},
		"pre_tokenizer": {"type": "BertPreTokenizer"},
		"post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
		"added_tokens": [{"id": 3, "content": "[SEP]", "special": true}],
		"model": {"unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
		          "vocab": {"[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "cafe": 9, "[PAD]": 0}},
		"decoder": {"type": "WordPiece"}}`)
	write("empty/README", "nothing")
	write("unigram/tokenizer.json", `{"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0], ["▁a", -1], ["a", -2]]}}`)

	tests := []struct {
		path    string
		text    string
		want    []string
		errLike string
		errIs   error
		unigram bool
	}{
		{path: "txt", text: "CAFÉ un", want: []string{"[CLS]", "cafe", "un", "[SEP]"}},
		{path: "txt/vocab.txt", text: "Café", want: []string{"[CLS]", "cafe", "[SEP]"}},
		{path: "txtcased", text: "café CAFE", want: []string{"[CLS]", "café", "[UNK]", "[SEP]"}},
		{path: "wp", text: "CAFÉ[SEP]", want: []string{"[CLS]", "cafe", "[SEP]", "[SEP]"}},
		{path: "wp/tokenizer.json", text: "café", want: []string{"[CLS]", "cafe", "[SEP]"}},
		{path: "bpe", errIs: ErrUnsupportedTokenizer},
		{path: "unigram", unigram: true},
		{path: "broken", errLike: "not a tokenizer.json"},
		{path: "nomodel", errLike: `no "model"`},
		{path: "badnorm", errLike: "BertNormalizer"},
		{path: "empty", errLike: "neither tokenizer.json nor vocab.txt"},
		{path: "missing", errLike: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			tok, err := LoadTokenizer(filepath.Join(dir, tt.path))
			if tt.errLike != "" || tt.errIs != nil {
				if err == nil || (tt.errIs != nil && !errors.Is(err, tt.errIs)) || !strings.Contains(err.Error(), tt.errLike) {
					t.Fatalf("err = %v, want one containing %q / wrapping %v", err, tt.errLike, tt.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := tok.(*Unigram); ok != tt.unigram {
				t.Fatalf("LoadTokenizer gave a %T", tok)
			}
			if tt.unigram {
				return
			}
			if got := tok.Encode(tt.text, 0).Tokens; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("tokens %q, want %q", got, tt.want)
			}
			if tok.PadID() != 0 {
				t.Errorf("PadID %d, want 0", tok.PadID())
			}
		})
	}
}

// TestLoadTokenizerVocabTxtMatchesJSON checks that vocab.txt +
// tokenizer_config.json gives the tokenizer.json's ids on real lines.
func TestLoadTokenizerVocabTxtMatchesJSON(t *testing.T) {
	t.Parallel()
	src := filepath.Join(sharedDir(t), "vocab", "bert-base-chinese")
	fromJSON := refTokenizer(t, refChinese)
	fromTxt, err := LoadWordPiece(filepath.Join(src, "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	data := &dataLines{dir: filepath.Join(sharedDir(t), "data"), files: map[string][][]byte{}}
	for _, file := range []string{"zh.jsonl.gz", "hard.jsonl.gz"} {
		recs := readRefFile(t, filepath.Join("testdata", "tokref", file))
		for i := range recs {
			a, _ := data.inputs(t, &recs[i])
			x, y := fromJSON.Encode(a, 0), fromTxt.Encode(a, 0)
			if !reflect.DeepEqual(x, y) {
				t.Fatalf("%s: tokenizer.json %v, vocab.txt %v", recs[i].key(), x.IDs, y.IDs)
			}
		}
	}
}
