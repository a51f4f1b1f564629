package encoder

import (
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file is BertNormalizer (clean_text, handle_chinese_chars,
// strip_accents, lowercase, in Hugging Face's order) and BertPreTokenizer
// (split on whitespace, isolate punctuation). ASCII text takes a byte loop;
// anything else goes through runes and the tables recorded from Hugging
// Face.

// appendSequence appends the ids of one input text (no special tokens).
// For pairs it records word ends in sc.wordEnds (see cappedLen).
func (w *WordPiece) appendSequence(dst []int32, text string, sc *wpScratch, record bool) []int32 {
	var ends *[]int32
	if record {
		ends = &sc.wordEnds
	}
	added := func(t AddedToken) {
		dst = append(dst, int32(t.ID))
		if ends != nil {
			*ends = append(*ends, int32(len(dst)))
		}
	}
	w.raw.split(text, func(piece string) {
		sc.norm = w.normalize(sc.norm[:0], piece, sc)
		if len(w.norm.tokens) == 0 {
			dst = w.appendWords(dst, sc.norm, ends)
			return
		}
		w.norm.split(string(sc.norm), func(n string) {
			dst = w.appendWords(dst, []byte(n), ends)
		}, added)
	}, added)
	return dst
}

// normalize appends the BertNormalizer output of s to dst.
func (w *WordPiece) normalize(dst []byte, s string, sc *wpScratch) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return w.normalizeRunes(dst, s[i:], sc)
		}
		k := &w.ascii[c]
		switch {
		case k.drop:
		case k.cleanSpace:
			dst = append(dst, ' ')
		default:
			dst = append(dst, k.out)
		}
	}
	return dst
}

// normalizeRunes is normalize for text that is not all ASCII. ASCII
// characters have no decomposition and combining class 0, so starting here
// in the middle of a text gives the same result as normalizing it whole.
func (w *WordPiece) normalizeRunes(dst []byte, s string, sc *wpScratch) []byte {
	rs := sc.runes[:0]
	for _, r := range s {
		k := classOf(r)
		if w.cfg.CleanText {
			if k&cControl != 0 {
				continue
			}
			if k&cCleanSpace != 0 {
				r = ' '
			}
		}
		if w.cfg.HandleChineseChars && k&cChinese != 0 {
			rs = append(rs, ' ', r, ' ')
			continue
		}
		rs = append(rs, r)
	}
	if w.cfg.StripAccents {
		d := nfd(sc.runes2[:0], rs)
		rs = rs[:0]
		for _, r := range d {
			if r < 0x300 || classOf(r)&cMark == 0 {
				rs = append(rs, r)
			}
		}
		sc.runes2 = d
	}
	for _, r := range rs {
		if w.cfg.Lowercase {
			if r < utf8.RuneSelf {
				if 'A' <= r && r <= 'Z' {
					r += 'a' - 'A'
				}
			} else if l, ok := hfLowerOf(r); ok {
				dst = append(dst, l...)
				continue
			}
		}
		dst = utf8.AppendRune(dst, r)
	}
	sc.runes = rs
	return dst
}

// Hangul syllables decompose algorithmically (Unicode 3.12).
const (
	hangulBase  = 0xAC00
	hangulCount = 11172
	jamoLBase   = 0x1100
	jamoVBase   = 0x1161
	jamoTBase   = 0x11A7
	jamoTCount  = 28
	jamoNCount  = 588
)

// nfdSkip lists code points that golang.org/x/text/unicode/norm decomposes
// and Hugging Face's NFD (the unicode-normalization crate) does not.
// TestWordPieceUnicodeTables checks NFD of every code point against
// Hugging Face.
var nfdSkip = map[rune]bool{
	0x11938: true, // DIVES AKURU VOWEL SIGN O
}

// nfd appends the canonical decomposition of rs to dst, in canonical order.
func nfd(dst, rs []rune) []rune {
	var buf [utf8.UTFMax]byte
	for _, r := range rs {
		switch {
		case r < 0xC0:
			dst = append(dst, r)
		case r >= hangulBase && r < hangulBase+hangulCount:
			s := r - hangulBase
			dst = append(dst, jamoLBase+s/jamoNCount, jamoVBase+(s%jamoNCount)/jamoTCount)
			if t := s % jamoTCount; t != 0 {
				dst = append(dst, jamoTBase+t)
			}
		case nfdSkip[r]:
			dst = append(dst, r)
		default:
			n := utf8.EncodeRune(buf[:], r)
			d := norm.NFD.Properties(buf[:n]).Decomposition()
			if d == nil {
				dst = append(dst, r)
				continue
			}
			for len(d) > 0 {
				x, size := utf8.DecodeRune(d)
				dst = append(dst, x)
				d = d[size:]
			}
		}
	}
	reorderMarks(dst)
	return dst
}

// reorderMarks puts every run of combining marks in canonical order: a
// stable sort by combining class (a counting sort, so that a long run of
// marks costs linear time).
func reorderMarks(rs []rune) {
	var counts [256]int
	var buf []rune
	for i := 0; i < len(rs); {
		if cccOf(rs[i]) == 0 {
			i++
			continue
		}
		j, sorted, last := i+1, true, cccOf(rs[i])
		for j < len(rs) {
			c := cccOf(rs[j])
			if c == 0 {
				break
			}
			sorted = sorted && c >= last
			last = c
			j++
		}
		if !sorted {
			run := rs[i:j]
			counts = [256]int{}
			for _, r := range run {
				counts[cccOf(r)]++
			}
			pos := 0
			for c := range counts {
				counts[c], pos = pos, pos+counts[c]
			}
			buf = append(buf[:0], run...)
			for _, r := range buf {
				c := cccOf(r)
				run[counts[c]] = r
				counts[c]++
			}
		}
		i = j
	}
}

func cccOf(r rune) uint8 {
	if r < 0x300 {
		return 0
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	return norm.NFD.Properties(buf[:n]).CCC()
}

// appendWords pre-tokenizes normalized text and appends the WordPiece ids
// of every word, and when ends is not nil the id count after every word.
func (w *WordPiece) appendWords(dst []int32, s []byte, ends *[]int32) []int32 {
	w.splitWords(s, func(b []byte) {
		dst = w.appendWord(dst, b)
		if ends != nil {
			*ends = append(*ends, int32(len(dst)))
		}
	})
	return dst
}

// splitWords is BertPreTokenizer: it splits s on whitespace and isolates
// every punctuation character, calling word for each piece in order.
func (w *WordPiece) splitWords(s []byte, word func([]byte)) {
	start := -1 // start of the current word, -1 when none
	for i := 0; i < len(s); {
		c := s[i]
		var space, punct bool
		size := 1
		if c < utf8.RuneSelf {
			k := &w.ascii[c]
			space, punct = k.preSpace, k.punct
		} else {
			var r rune
			r, size = utf8.DecodeRune(s[i:])
			k := classOf(r)
			space = k&cPreSpace != 0
			punct = !space && k&cPunct != 0
		}
		if space || punct {
			if start >= 0 {
				word(s[start:i])
				start = -1
			}
			if punct {
				word(s[i : i+size])
			}
		} else if start < 0 {
			start = i
		}
		i += size
	}
	if start >= 0 {
		word(s[start:])
	}
}

// appendWord appends the WordPiece ids of one word: greedy longest match
// first, continuing pieces with the prefix; the whole word becomes the
// unknown token when a part has no match or the word is too long.
func (w *WordPiece) appendWord(dst []int32, word []byte) []int32 {
	if len(word) > w.cfg.MaxInputCharsPerWord && utf8.RuneCount(word) > w.cfg.MaxInputCharsPerWord {
		return append(dst, w.unkID)
	}
	if r, n := utf8.DecodeRune(word); n == len(word) && r < 0x10000 && r != utf8.RuneError {
		if id := w.single[r]; id >= 0 {
			return append(dst, id)
		}
		return append(dst, w.unkID)
	}
	mark := len(dst)
	table, longest := w.vocab, w.maxKey
	for start := 0; start < len(word); {
		end := len(word)
		if end-start > longest {
			end = start + longest
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		found := false
		for end > start {
			if id, ok := table[string(word[start:end])]; ok {
				dst = append(dst, id)
				found = true
				break
			}
			_, size := utf8.DecodeLastRune(word[start:end])
			end -= size
		}
		if !found {
			return append(dst[:mark], w.unkID)
		}
		start = end
		table, longest = w.cont, w.maxCont
	}
	return dst
}
