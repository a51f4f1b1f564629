package encoder

//go:generate go run wordpiece_tables_gen.go

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// WordPieceConfig is the BERT tokenization pipeline of a WordPiece
// tokenizer, as Hugging Face's tokenizer.json describes it: BertNormalizer,
// BertPreTokenizer, WordPiece model, template post-processor.
type WordPieceConfig struct {
	// CleanText removes control characters and turns whitespace into spaces.
	CleanText bool
	// HandleChineseChars puts spaces around CJK ideographs.
	HandleChineseChars bool
	// StripAccents removes non-spacing marks after NFD. Hugging Face's
	// "strip_accents": null means "follow Lowercase"; resolve it before.
	StripAccents bool
	// Lowercase lowercases the text.
	Lowercase bool

	// UnkToken must be in the vocabulary.
	UnkToken string
	// ContinuingSubwordPrefix marks word pieces that continue a word ("##").
	ContinuingSubwordPrefix string
	// MaxInputCharsPerWord: longer words become UnkToken (Hugging Face: 100).
	MaxInputCharsPerWord int

	// Single and Pair are the post-processor templates: special tokens
	// around sequence A (and B). A nil Pair means A followed by B, B with
	// type id 1, as Hugging Face does without a post-processor.
	Single, Pair []TemplatePiece

	// AddedTokens are split out of the text before tokenizing (the special
	// tokens [CLS], [SEP], ... of BERT vocabularies).
	AddedTokens []AddedToken

	// PadToken is the token that pads batches ("[PAD]").
	PadToken string
}

// TemplatePiece is one element of a post-processor template: a special
// token (Token non-empty) or the input sequence (Sequence "A" or "B").
type TemplatePiece struct {
	Token    string
	ID       int64
	Sequence string
	TypeID   int64
}

// AddedToken is a token matched literally in the input before the WordPiece
// model runs, as in Hugging Face's added vocabulary.
type AddedToken struct {
	ID      int64
	Content string
	// Normalized tokens are matched in the normalized text, the others in
	// the raw input.
	Normalized bool
	// SingleWord tokens only match when not inside a word; LStrip and RStrip
	// swallow the whitespace to their left and right.
	SingleWord, LStrip, RStrip bool
}

// BERTTemplate returns the usual "[CLS] A [SEP]" and "[CLS] A [SEP] B [SEP]"
// templates (type ids 0 for A, 1 for B and its [SEP]).
func BERTTemplate(cls string, clsID int64, sep string, sepID int64) (single, pair []TemplatePiece) {
	single = []TemplatePiece{{Token: cls, ID: clsID}, {Sequence: "A"}, {Token: sep, ID: sepID}}
	pair = []TemplatePiece{{Token: cls, ID: clsID}, {Sequence: "A"}, {Token: sep, ID: sepID},
		{Sequence: "B", TypeID: 1}, {Token: sep, ID: sepID, TypeID: 1}}
	return single, pair
}

// WordPiece is a BERT WordPiece tokenizer that gives the same ids as
// Hugging Face tokenizers for BertNormalizer + BertPreTokenizer + WordPiece
// tokenizer.json files. It is safe for concurrent use.
//
// Character classes (control, whitespace, punctuation, CJK, non-spacing
// marks, lowercase) come from tables recorded from Hugging Face itself
// (wordpiece_tables.go), so results do not depend on the Unicode version of
// the Go toolchain.
type WordPiece struct {
	cfg     WordPieceConfig
	vocab   map[string]int32 // word-initial pieces
	cont    map[string]int32 // continuing pieces, prefix removed
	maxKey  int              // longest key in vocab, in bytes
	maxCont int              // longest key in cont, in bytes
	// single maps a one-character word below U+10000 to its id (-1: not
	// in the vocabulary); CJK text is almost all such words.
	single   []int32
	unkID    int32
	padID    int64
	tokens   []string // id -> token
	raw      addedMatcher
	norm     addedMatcher
	nSingle  int // special tokens in the single template
	nPair    int
	ascii    [128]asciiClass
	scratchs sync.Pool
}

// asciiClass says what normalization and pre-tokenization do with an ASCII
// byte under this tokenizer's configuration.
type asciiClass struct {
	drop       bool // removed by clean_text
	cleanSpace bool // turned into ' ' by clean_text
	preSpace   bool // a word boundary for the pre-tokenizer
	punct      bool // isolated as its own word by the pre-tokenizer
	out        byte // the byte after lowercasing
}

// maxTokenID bounds vocabulary ids (the id -> token table is dense).
const maxTokenID = 1 << 24

// NewWordPiece builds a tokenizer from a vocabulary (token -> id) and a
// pipeline configuration. The vocabulary must hold cfg.UnkToken.
func NewWordPiece(vocab map[string]int, cfg WordPieceConfig) (*WordPiece, error) {
	if cfg.UnkToken == "" {
		cfg.UnkToken = "[UNK]"
	}
	if cfg.MaxInputCharsPerWord <= 0 {
		cfg.MaxInputCharsPerWord = 100
	}
	if cfg.Single == nil {
		cfg.Single = []TemplatePiece{{Sequence: "A"}}
	}
	if cfg.Pair == nil {
		cfg.Pair = []TemplatePiece{{Sequence: "A"}, {Sequence: "B", TypeID: 1}}
	}
	classOnce.Do(buildClassTable)
	w := &WordPiece{cfg: cfg, vocab: make(map[string]int32, len(vocab)), cont: make(map[string]int32)}
	maxID := -1
	for tok, id := range vocab {
		if id < 0 || id > maxTokenID {
			return nil, fmt.Errorf("vocabulary id %d of %q is out of range", id, tok)
		}
		maxID = max(maxID, id)
		w.vocab[tok] = int32(id)
		w.maxKey = max(w.maxKey, len(tok))
		if p := cfg.ContinuingSubwordPrefix; p != "" && strings.HasPrefix(tok, p) {
			w.cont[tok[len(p):]] = int32(id)
			w.maxCont = max(w.maxCont, len(tok)-len(p))
		}
	}
	w.single = make([]int32, 0x10000)
	for i := range w.single {
		w.single[i] = -1
	}
	for tok, id := range vocab {
		if r, n := utf8.DecodeRuneInString(tok); n == len(tok) && r < 0x10000 && r != utf8.RuneError {
			w.single[r] = int32(id)
		}
	}
	unk, ok := vocab[cfg.UnkToken]
	if !ok {
		return nil, fmt.Errorf("unknown token %q is not in the vocabulary (%d entries); set unk_token to a token of vocab", cfg.UnkToken, len(vocab))
	}
	w.unkID = int32(unk)
	for _, a := range cfg.AddedTokens {
		if a.ID < 0 || a.ID > maxTokenID {
			return nil, fmt.Errorf("added token %q has id %d out of range", a.Content, a.ID)
		}
		maxID = max(maxID, int(a.ID))
	}
	for _, tp := range append(append([]TemplatePiece(nil), cfg.Single...), cfg.Pair...) {
		switch {
		case tp.Token != "":
			if tp.ID < 0 || tp.ID > maxTokenID {
				return nil, fmt.Errorf("template token %q has id %d out of range", tp.Token, tp.ID)
			}
			maxID = max(maxID, int(tp.ID))
		case tp.Sequence != "A" && tp.Sequence != "B":
			return nil, fmt.Errorf("template piece %+v is neither a special token nor sequence A or B", tp)
		}
	}
	w.tokens = make([]string, maxID+1)
	for tok, id := range vocab {
		w.tokens[id] = tok
	}
	for _, a := range cfg.AddedTokens {
		if a.Content != "" {
			w.tokens[a.ID] = a.Content
		}
	}
	for _, tp := range append(append([]TemplatePiece(nil), cfg.Single...), cfg.Pair...) {
		if tp.Token != "" {
			w.tokens[tp.ID] = tp.Token
		}
	}
	w.nSingle, w.nPair = countSpecial(cfg.Single), countSpecial(cfg.Pair)
	w.padID = -1
	if id, ok := w.TokenToID(cfg.PadToken); ok {
		w.padID = int64(id)
	} else if cfg.PadToken == "" {
		w.padID = 0
	} else {
		return nil, fmt.Errorf("pad token %q is not in the vocabulary or added tokens", cfg.PadToken)
	}
	for c := 0; c < 128; c++ {
		r := rune(c)
		k := asciiClass{out: byte(c)}
		cl := classOf(r)
		k.drop = cfg.CleanText && cl&cControl != 0
		k.cleanSpace = cfg.CleanText && cl&cCleanSpace != 0
		k.preSpace = cl&cPreSpace != 0
		k.punct = cl&cPunct != 0
		if cfg.Lowercase && 'A' <= c && c <= 'Z' {
			k.out = byte(c + 'a' - 'A')
		}
		w.ascii[c] = k
	}
	var raw, normed []AddedToken
	for _, a := range cfg.AddedTokens {
		if a.Content == "" {
			continue
		}
		if a.Normalized {
			// Hugging Face matches these against the normalized text, so the
			// pattern is the normalized content.
			if a.Content = string(w.normalize(nil, a.Content, &wpScratch{})); a.Content != "" {
				normed = append(normed, a)
			}
		} else {
			raw = append(raw, a)
		}
	}
	w.raw, w.norm = newAddedMatcher(raw), newAddedMatcher(normed)
	w.scratchs.New = func() any { return &wpScratch{} }
	return w, nil
}

func countSpecial(t []TemplatePiece) int {
	n := 0
	for _, p := range t {
		if p.Token != "" {
			n++
		}
	}
	return n
}

// wpScratch holds the buffers of one Encode call; pooled.
type wpScratch struct {
	norm   []byte
	runes  []rune
	runes2 []rune
	a, b   []int32
	// wordEnds records the token count after each word of a pair's
	// sequences (a's words, then b's, each counted from its own start).
	wordEnds []int32
}

// Config returns the pipeline configuration.
func (w *WordPiece) Config() WordPieceConfig { return w.cfg }

// PadID is the id of the padding token.
func (w *WordPiece) PadID() int64 { return w.padID }

// VocabSize is the number of ids (the largest id plus one).
func (w *WordPiece) VocabSize() int { return len(w.tokens) }

// IDToToken returns the token of an id.
func (w *WordPiece) IDToToken(id int64) (string, bool) {
	if id < 0 || id >= int64(len(w.tokens)) || w.tokens[id] == "" {
		return "", false
	}
	return w.tokens[id], true
}

// TokenToID returns the id of a vocabulary or added token.
func (w *WordPiece) TokenToID(tok string) (int, bool) {
	for _, a := range w.cfg.AddedTokens {
		if a.Content == tok {
			return int(a.ID), true
		}
	}
	id, ok := w.vocab[tok]
	return int(id), ok
}

// Encode tokenizes one text with the single-sequence template. maxLen
// counts special tokens; 0 means no limit. Over-long input is truncated
// from the right (Truncated set); a maxLen smaller than the template's
// special tokens keeps the first maxLen tokens of the result, so the result
// never exceeds maxLen. Invalid UTF-8 is replaced by U+FFFD (InvalidUTF8
// set), which BERT's clean_text then removes.
func (w *WordPiece) Encode(text string, maxLen int) Encoding {
	var enc Encoding
	text, enc.InvalidUTF8 = validUTF8(text)
	sc := w.scratchs.Get().(*wpScratch)
	sc.a = w.appendSequence(sc.a[:0], text, sc, false)
	a := sc.a
	if maxLen > 0 && len(a)+w.nSingle > maxLen {
		a = a[:max(0, maxLen-w.nSingle)]
		enc.Truncated = true
	}
	w.build(&enc, w.cfg.Single, a, nil, maxLen)
	w.scratchs.Put(sc)
	return enc
}

// EncodePair tokenizes a sentence pair with the pair template (type ids 0
// for a, 1 for b). Truncation is Hugging Face's default, longest-first:
// the shorter sequence is kept whole when the longer can take the rest,
// else each gets half. Like tokenizers 0.23.2, the lengths it compares are
// capped at the first word boundary at or past maxLen tokens.
func (w *WordPiece) EncodePair(a, b string, maxLen int) (Encoding, error) {
	var enc Encoding
	var badA, badB bool
	a, badA = validUTF8(a)
	b, badB = validUTF8(b)
	enc.InvalidUTF8 = badA || badB
	sc := w.scratchs.Get().(*wpScratch)
	sc.wordEnds = sc.wordEnds[:0]
	record := maxLen > 0
	sc.a = w.appendSequence(sc.a[:0], a, sc, record)
	endsA := len(sc.wordEnds)
	sc.b = w.appendSequence(sc.b[:0], b, sc, record)
	x, y := sc.a, sc.b
	if maxLen > 0 && len(x)+len(y)+w.nPair > maxLen {
		limit := max(0, maxLen-w.nPair)
		n1, n2 := longestFirst(cappedLen(sc.wordEnds[:endsA], maxLen), cappedLen(sc.wordEnds[endsA:], maxLen), limit)
		x, y = x[:min(n1, len(x))], y[:min(n2, len(y))]
		enc.Truncated = true
	}
	w.build(&enc, w.cfg.Pair, x, y, maxLen)
	w.scratchs.Put(sc)
	return enc, nil
}

// longestFirst is Hugging Face's LongestFirst truncation of two sequences
// of lengths n1, n2 to at most limit tokens together: the shorter one is
// kept whole when the longer can take the rest, else both get half and the
// odd token goes to the longer one.
func longestFirst(n1, n2, limit int) (int, int) {
	swap := n1 > n2
	if swap {
		n1, n2 = n2, n1
	}
	if n1 > limit {
		n2 = n1
	} else {
		n2 = max(n1, limit-n1)
	}
	if n1+n2 > limit {
		n1 = limit / 2
		n2 = n1 + limit%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return n1, n2
}

// cappedLen is the length Hugging Face tokenizers 0.23.2 gives
// longestFirst for a sequence of a pair truncated to maxLen: it stops
// tokenizing at the end of the first word that reaches maxLen tokens, so a
// longer sequence counts as that many. wordEnds holds the token count after
// each word.
func cappedLen(wordEnds []int32, maxLen int) int {
	for _, e := range wordEnds {
		if int(e) >= maxLen {
			return int(e)
		}
	}
	if len(wordEnds) == 0 {
		return 0
	}
	return int(wordEnds[len(wordEnds)-1])
}

// build fills enc from a template and the sequences' ids, keeping at most
// maxLen tokens when maxLen > 0.
func (w *WordPiece) build(enc *Encoding, tmpl []TemplatePiece, a, b []int32, maxLen int) {
	n := 0
	for _, p := range tmpl {
		switch {
		case p.Token != "":
			n++
		case p.Sequence == "A":
			n += len(a)
		default:
			n += len(b)
		}
	}
	if maxLen > 0 && n > maxLen {
		n = maxLen
		enc.Truncated = true
	}
	ids, types, toks := make([]int64, n), make([]int64, n), make([]string, n)
	i := 0
	for _, p := range tmpl {
		if i == n {
			break
		}
		if p.Token != "" {
			ids[i], types[i], toks[i] = p.ID, p.TypeID, p.Token
			i++
			continue
		}
		seq := a
		if p.Sequence == "B" {
			seq = b
		}
		seq = seq[:min(len(seq), n-i)]
		for _, id := range seq {
			ids[i], types[i], toks[i] = int64(id), p.TypeID, w.tokens[id]
			i++
		}
	}
	enc.IDs, enc.TypeIDs, enc.Tokens = ids, types, toks
}

// validUTF8 replaces invalid UTF-8 by U+FFFD.
func validUTF8(s string) (string, bool) {
	if utf8.ValidString(s) {
		return s, false
	}
	return strings.ToValidUTF8(s, "\uFFFD"), true
}
