package serve

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAlignTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text   string
		tokens []string // [CLS] and [SEP] around them
		want   []string // the slice of text of each token; "-" for null
	}{
		{"Hello, world!", []string{"hello", ",", "world", "!"}, []string{"Hello", ",", "world", "!"}},
		{"unaffable", []string{"un", "##aff", "##able"}, []string{"un", "aff", "able"}},
		{"Crème brûlée", []string{"creme", "br", "##ule", "##e"}, []string{"Crème", "br", "ûlé", "e"}},
		{"a ☃ b", []string{"a", "[UNK]", "b"}, []string{"a", "☃", "b"}},
		{"x qzxq!", []string{"x", "[UNK]", "!"}, []string{"x", "qzxq", "!"}},
		{"北京 ok", []string{"北", "京", "ok"}, []string{"北", "京", "ok"}},
		{"▁hello world", []string{"▁hello", "▁world"}, []string{"hello", "world"}},
		{"ﬁne", []string{"fine"}, []string{"ﬁne"}},
		{"abc", []string{"zzz", "abc"}, []string{"-", "abc"}},
	} {
		toks := Tokens{IDs: []int64{101}, Tokens: []string{"[CLS]"}, Special: []bool{true}}
		for _, tok := range tc.tokens {
			toks.IDs = append(toks.IDs, 1)
			toks.Tokens = append(toks.Tokens, tok)
			toks.Special = append(toks.Special, false)
		}
		toks.IDs, toks.Tokens, toks.Special = append(toks.IDs, 102), append(toks.Tokens, "[SEP]"), append(toks.Special, true)
		spans := alignTokens(tc.text, toks)
		if spans[0].ok || spans[len(spans)-1].ok {
			t.Errorf("%q: special tokens got offsets", tc.text)
		}
		for i, want := range tc.want {
			sp := spans[i+1]
			got := "-"
			if sp.ok {
				got = tc.text[sp.start:sp.stop]
			}
			if got != want {
				t.Errorf("%q token %q: %q, want %q", tc.text, tc.tokens[i], got, want)
			}
		}
	}
}

// FuzzAlignTokens: any text and tokens give spans inside the text, on rune
// boundaries, in order.
func FuzzAlignTokens(f *testing.F) {
	f.Add("Hello, world!", "hello ##, world")
	f.Add("Crème brûlée ☃", "creme [UNK] ##e")
	f.Add("\xff\xfe", "[UNK]")
	f.Fuzz(func(t *testing.T, text, tokens string) {
		text = strings.ToValidUTF8(text, "\uFFFD") // as every JSON body decodes
		toks := Tokens{}
		for _, tok := range strings.Fields(tokens) {
			toks.IDs = append(toks.IDs, 1)
			toks.Tokens = append(toks.Tokens, tok)
			toks.Special = append(toks.Special, false)
		}
		prev := 0
		for i, sp := range alignTokens(text, toks) {
			if !sp.ok {
				continue
			}
			if sp.start < prev-utf8.UTFMax || sp.start >= sp.stop || sp.stop > len(text) {
				t.Fatalf("token %d: span [%d, %d) in %d bytes after %d", i, sp.start, sp.stop, len(text), prev)
			}
			if !utf8.RuneStart(text[sp.start]) || (sp.stop < len(text) && !utf8.RuneStart(text[sp.stop])) {
				t.Fatalf("token %d: span [%d, %d) splits a rune", i, sp.start, sp.stop)
			}
			prev = sp.stop
		}
	})
}
