package serve

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Token offsets for /tokenize. The tokenizers behind the Embedder report
// token strings, not where in the text each came from, so the offsets are
// recovered by aligning the tokens with the text: both are folded the way
// BERT-family normalisers fold text (compatibility decomposition, lower
// case, combining marks dropped), the WordPiece "##" and SentencePiece "▁"
// markers are removed, and each token is looked for from where the
// previous one ended. An unknown-word token ([UNK], <unk>) covers the next
// word, or the next punctuation mark. A token that cannot be found keeps
// null offsets (the spec allows it), and the tokens after it are still
// aligned.

// span is a token's byte range in the input; ok is false when unknown.
type span struct {
	start, stop int
	ok          bool
}

// foldedRune is one rune of the folded text and the byte range of the
// input rune it came from.
type foldedRune struct {
	r           rune
	start, stop int
}

// fold maps text to folded runes. Runes that fold to nothing (combining
// marks, controls, format characters) are dropped.
func fold(text string) []foldedRune {
	out := make([]foldedRune, 0, len(text))
	var buf [8]rune
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		for _, f := range foldRune(r, buf[:0]) {
			out = append(out, foldedRune{r: f, start: i, stop: i + size})
		}
		i += size
	}
	return out
}

// foldRune folds one rune into dst.
func foldRune(r rune, dst []rune) []rune {
	if r < utf8.RuneSelf {
		if r < ' ' || r == 0x7f {
			return dst
		}
		return append(dst, unicode.ToLower(r))
	}
	if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r) {
		return dst
	}
	for _, d := range norm.NFKD.String(string(r)) {
		if unicode.Is(unicode.Mn, d) {
			continue
		}
		dst = append(dst, unicode.ToLower(d))
	}
	return dst
}

// piece is a token without its word-piece markers.
func piece(tok string) string {
	tok = strings.TrimPrefix(tok, "##")
	tok = strings.ReplaceAll(tok, "▁", "")
	return tok
}

func isUnknown(tok string) bool {
	switch strings.ToLower(tok) {
	case "[unk]", "<unk>", "<|unk|>":
		return true
	}
	return false
}

// alignTokens finds each non-special token of toks in text.
func alignTokens(text string, toks Tokens) []span {
	stream := fold(text)
	spans := make([]span, len(toks.IDs))
	pos := 0
	for i := range toks.IDs {
		if i < len(toks.Special) && toks.Special[i] {
			continue
		}
		if i >= len(toks.Tokens) {
			break
		}
		tok := toks.Tokens[i]
		if isUnknown(tok) {
			if sp, next, ok := unknownSpan(stream, pos); ok {
				spans[i], pos = sp, next
			}
			continue
		}
		want := fold(piece(tok))
		if len(want) == 0 {
			continue
		}
		if j := find(stream, pos, want); j >= 0 {
			end := j + len(want)
			spans[i] = span{start: stream[j].start, stop: stream[end-1].stop, ok: true}
			pos = end
		}
	}
	return spans
}

// find returns the first index from pos where want matches stream, or -1.
func find(stream []foldedRune, pos int, want []foldedRune) int {
	for j := pos; j+len(want) <= len(stream); j++ {
		match := true
		for k, w := range want {
			if stream[j+k].r != w.r {
				match = false
				break
			}
		}
		if match {
			return j
		}
	}
	return -1
}

// unknownSpan is the next word (or punctuation mark) from pos.
func unknownSpan(stream []foldedRune, pos int) (span, int, bool) {
	j := pos
	for j < len(stream) && unicode.IsSpace(stream[j].r) {
		j++
	}
	if j >= len(stream) {
		return span{}, pos, false
	}
	end := j + 1
	if !isPunct(stream[j].r) {
		for end < len(stream) && !unicode.IsSpace(stream[end].r) && !isPunct(stream[end].r) {
			end++
		}
	}
	return span{start: stream[j].start, stop: stream[end-1].stop, ok: true}, end, true
}

func isPunct(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }
