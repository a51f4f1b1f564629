package encoder

import (
	"sort"
	"sync"
	"unicode"
)

// Character classes of Hugging Face's BERT pipeline, as bits. classOf
// answers from a table for the first two planes (built once, 128 KiB: all
// scripts in use and the emoji) and from the generated range tables above.
const (
	cControl    uint8 = 1 << iota // removed by clean_text
	cCleanSpace                   // turned into ' ' by clean_text
	cChinese                      // spaced by handle_chinese_chars
	cPunct                        // isolated by BertPreTokenizer
	cPreSpace                     // split on by BertPreTokenizer
	cMark                         // removed by strip_accents after NFD
	cLower                        // changed by lowercase
)

const classTableSize = 0x20000

var (
	classOnce  sync.Once
	classTable *[classTableSize]uint8
)

func buildClassTable() {
	t := new([classTableSize]uint8)
	for r := rune(0); r < classTableSize; r++ {
		t[r] = classSlow(r)
	}
	classTable = t
}

func classOf(r rune) uint8 {
	if uint32(r) < classTableSize {
		return classTable[r]
	}
	return classSlow(r)
}

func classSlow(r rune) uint8 {
	var c uint8
	for _, k := range []struct {
		bit uint8
		t   *unicode.RangeTable
	}{
		{cControl, hfControl}, {cCleanSpace, hfCleanSpace}, {cChinese, hfChinese},
		{cPunct, hfPunct}, {cPreSpace, hfPreSpace}, {cMark, hfMark},
	} {
		if unicode.Is(k.t, r) {
			c |= k.bit
		}
	}
	if _, ok := hfLowerSearch(r); ok {
		c |= cLower
	}
	return c
}

// hfLowerOf returns Hugging Face's lowercase of r when it differs from r.
func hfLowerOf(r rune) (string, bool) {
	if classOf(r)&cLower == 0 {
		return "", false
	}
	return hfLowerSearch(r)
}

func hfLowerSearch(r rune) (string, bool) {
	i := sort.Search(len(hfLower), func(i int) bool { return hfLower[i].r >= r })
	if i < len(hfLower) && hfLower[i].r == r {
		return hfLower[i].s, true
	}
	return "", false
}
