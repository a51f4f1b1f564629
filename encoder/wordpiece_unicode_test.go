package encoder

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"testing"
)

// hfUnicode is testdata/tokref/unicode_hf.json.gz, written by
// scripts/tokref/unicode.js from Hugging Face tokenizers.
type hfUnicode struct {
	Version      string    `json:"version"`
	CleanRemoved [][2]rune `json:"clean_removed"`
	CleanSpace   [][2]rune `json:"clean_space"`
	Chinese      [][2]rune `json:"chinese"`
	Punct        [][2]rune `json:"punct"`
	PreSpace     [][2]rune `json:"pre_space"`
	Mark         [][2]rune `json:"mark"`
	NFD          [][2]any  `json:"nfd"`
	Strip        [][2]any  `json:"strip"`
	Lower        [][2]any  `json:"lower"`
}

func loadHFUnicode(t *testing.T) *hfUnicode {
	t.Helper()
	f, err := os.Open("testdata/tokref/unicode_hf.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var u hfUnicode
	if err := json.NewDecoder(zr).Decode(&u); err != nil {
		t.Fatal(err)
	}
	return &u
}

func rangeSet(rs [][2]rune) map[rune]bool {
	m := map[rune]bool{}
	for _, r := range rs {
		for c := r[0]; c <= r[1]; c++ {
			m[c] = true
		}
	}
	return m
}

func mapping(t *testing.T, es [][2]any) map[rune]string {
	t.Helper()
	m := map[rune]string{}
	for _, e := range es {
		c, ok1 := e[0].(float64)
		s, ok2 := e[1].(string)
		if !ok1 || !ok2 {
			t.Fatalf("bad mapping entry %v", e)
		}
		m[rune(c)] = s
	}
	return m
}

// stage builds a tokenizer that runs one normalization step only, with a
// one-token vocabulary (normalization does not look at the vocabulary).
func stage(t *testing.T, cfg WordPieceConfig) *WordPiece {
	t.Helper()
	w, err := NewWordPiece(map[string]int{"[UNK]": 0}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWordPieceUnicodeTables runs every Unicode code point through each
// normalization step and the pre-tokenizer and compares with what Hugging
// Face does (recorded by scripts/tokref/unicode.js). It covers the ASCII
// fast path, NFD from golang.org/x/text with its exceptions, and the
// generated tables.
func TestWordPieceUnicodeTables(t *testing.T) {
	if testing.Short() {
		t.Skip("sweeps all 1.1M code points; skipped with -short")
	}
	t.Parallel()
	u := loadHFUnicode(t)
	removed, space, chinese := rangeSet(u.CleanRemoved), rangeSet(u.CleanSpace), rangeSet(u.Chinese)
	punct, preSpace := rangeSet(u.Punct), rangeSet(u.PreSpace)
	strip, lower := mapping(t, u.Strip), mapping(t, u.Lower)
	nfdMap := mapping(t, u.NFD)

	clean := stage(t, WordPieceConfig{CleanText: true})
	cjk := stage(t, WordPieceConfig{HandleChineseChars: true})
	stripper := stage(t, WordPieceConfig{StripAccents: true})
	lowerer := stage(t, WordPieceConfig{Lowercase: true})
	none := stage(t, WordPieceConfig{})
	sc := &wpScratch{}
	fails := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if fails++; fails <= 20 {
			t.Errorf(format, args...)
		}
	}
	for c := rune(0); c <= 0x10FFFF; c++ {
		if c >= 0xD800 && c <= 0xDFFF {
			continue
		}
		s := string(c)
		want := s
		switch {
		case removed[c]:
			want = ""
		case space[c]:
			want = " "
		}
		if got := string(clean.normalize(nil, s, sc)); got != want {
			fail("clean_text U+%04X: got %q, Hugging Face %q", c, got, want)
		}
		want = s
		if chinese[c] {
			want = " " + s + " "
		}
		if got := string(cjk.normalize(nil, s, sc)); got != want {
			fail("handle_chinese_chars U+%04X: got %q, Hugging Face %q", c, got, want)
		}
		want = s
		if m, ok := strip[c]; ok {
			want = m
		}
		if got := string(stripper.normalize(nil, s, sc)); got != want {
			fail("strip_accents U+%04X: got %+q, Hugging Face %+q", c, got, want)
		}
		wantNFD := s
		if m, ok := nfdMap[c]; ok {
			wantNFD = m
		}
		if got := string(nfd(nil, []rune{c})); got != wantNFD {
			fail("NFD U+%04X: got %+q, Hugging Face %+q", c, got, wantNFD)
		}
		want = s
		if m, ok := lower[c]; ok {
			want = m
		}
		if got := string(lowerer.normalize(nil, s, sc)); got != want {
			fail("lowercase U+%04X: got %+q, Hugging Face %+q", c, got, want)
		}
		var words int
		none.splitWords([]byte("a"+s+"a"), func([]byte) { words++ })
		wantWords := 1
		switch {
		case punct[c]:
			wantWords = 3
		case preSpace[c]:
			wantWords = 2
		}
		if words != wantWords {
			fail("pre-tokenizer U+%04X: %d pieces, Hugging Face %d", c, words, wantWords)
		}
	}
	if fails > 0 {
		t.Logf("%d differences from %s; regenerate the tables with go generate ./encoder after node scripts/tokref/unicode.js", fails, u.Version)
	}
}

// TestWordPieceNFDOrder checks canonical reordering of combining marks in
// the NFD that strip_accents uses, which single code points cannot show.
func TestWordPieceNFDOrder(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\u0323\u0301", "a\u0323\u0301"},           // below (220) before above (230): already ordered
		{"a\u0301\u0323", "a\u0323\u0301"},           // reordered
		{"\u1e69", "s\u0323\u0307"},                  // ṩ decomposes in canonical order
		{"\u0344\u0323", "\u0323\u0308\u0301"},       // decomposition then reorder across it
		{"\uac01", "\u1100\u1161\u11a8"},             // Hangul LVT
		{"x\u0301y\u0302", "x\u0301y\u0302"},         // starters stop runs
		{"\U00011938", "\U00011938"},                 // Hugging Face does not decompose it
		{"\u0591\u05b1\u05b0", "\u05b0\u05b1\u0591"}, // Hebrew accent 220, points 11, 10
	}
	for _, tt := range tests {
		if got := string(nfd(nil, []rune(tt.in))); got != tt.want {
			t.Errorf("nfd(%+q) = %+q, want %+q", tt.in, got, tt.want)
		}
	}
}
