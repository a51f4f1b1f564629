package encoder

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedMatcher finds added tokens in text the way Hugging Face's added
// vocabulary does: leftmost-longest, non-overlapping matches, then the
// single_word, lstrip and rstrip rules.
type addedMatcher struct {
	tokens []AddedToken // longest content first
	first  [256]bool    // first bytes of the tokens' contents
}

func newAddedMatcher(tokens []AddedToken) addedMatcher {
	m := addedMatcher{tokens: append([]AddedToken(nil), tokens...)}
	sort.SliceStable(m.tokens, func(i, j int) bool { return len(m.tokens[i].Content) > len(m.tokens[j].Content) })
	for _, t := range m.tokens {
		m.first[t.Content[0]] = true
	}
	return m
}

// split calls piece for every stretch of s between matches and token for
// every match, in order.
func (m *addedMatcher) split(s string, piece func(string), token func(AddedToken)) {
	if len(m.tokens) == 0 {
		piece(s)
		return
	}
	done := 0 // s[:done] has been handed out
	for i := 0; i < len(s); i++ {
		if !m.first[s[i]] {
			continue
		}
		for _, t := range m.tokens {
			if !strings.HasPrefix(s[i:], t.Content) {
				continue
			}
			start, stop := i, i+len(t.Content)
			if t.SingleWord && (endsWithWord(s[:start]) || startsWithWord(s[stop:])) {
				continue
			}
			if t.LStrip {
				start = max(done, len(strings.TrimRightFunc(s[:start], unicode.IsSpace)))
			}
			if t.RStrip {
				stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
			}
			if done < start {
				piece(s[done:start])
			}
			token(t)
			done = stop
			i = stop - 1
			break
		}
	}
	if done < len(s) || len(s) == 0 {
		piece(s[done:])
	}
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.Is(unicode.Pc, r)
}

func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordRune(r)
}

func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordRune(r)
}
