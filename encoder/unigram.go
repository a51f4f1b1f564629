package encoder

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// UnigramPiece is one vocabulary entry of a unigram (SentencePiece) model:
// the piece and its log-probability score. The piece's id is its index in
// the vocabulary.
type UnigramPiece struct {
	Piece string
	Score float64
}

// Viterbi variants of UnigramConfig.Viterbi.
const (
	// ViterbiHF is the segmentation of Hugging Face tokenizers and
	// SentencePiece: on equal path scores the earlier start (the longer last
	// piece) wins, and an unknown character scores min(score) - 10.
	ViterbiHF = "hf"
	// ViterbiTFJS reproduces the tokenizer of the TF.js Universal Sentence
	// Encoder packages (@tensorflow-models/universal-sentence-encoder,
	// @energetic-ai/embeddings) bit for bit, quirks included: ties go to the
	// later start (the shorter last piece), a path score of exactly 0 counts
	// as "unset" and is replaced by the next candidate, an unknown character
	// scores 0 and is only added where no piece at all starts, ids below
	// TrieMinID are never produced, of duplicate pieces the last id wins,
	// and backtracking steps back by the UTF-16 length of the chosen piece
	// (one code point for an unknown).
	ViterbiTFJS = "tfjs"
)

// UnigramConfig says how a Unigram tokenizer normalizes and segments.
type UnigramConfig struct {
	// UnkID is the id emitted for characters that no piece covers.
	// Consecutive unknowns are fused into one.
	UnkID int
	// Normalizers run in order on the input before segmentation.
	Normalizers []Normalizer
	// Viterbi is ViterbiHF (the default when empty) or ViterbiTFJS.
	Viterbi string
	// TrieMinID excludes ids below it from segmentation (the TF.js tokenizer
	// skips its 6 reserved symbols). 0 keeps every piece.
	TrieMinID int
	// PadID is the id the batcher pads with; the attention mask hides it.
	PadID int64
}

// Normalizer is one text normalization step of a Unigram tokenizer, as
// described by a tokenizer.json "normalizer" entry.
type Normalizer struct {
	// Type is one of NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend.
	Type string
	// Pattern and Content are Replace's literal pattern and replacement.
	Pattern, Content string
	// Prepend is Prepend's prefix, added to non-empty text only.
	Prepend string
}

// Unigram is a unigram-language-model tokenizer: it normalizes the text,
// then picks the segmentation into vocabulary pieces with the highest total
// score by Viterbi search over a trie. It adds no special tokens. It is
// immutable after construction and safe for concurrent use.
type Unigram struct {
	pieces  []UnigramPiece
	steps   []int // UTF-16 length of each piece (TF.js backtracking)
	cfg     UnigramConfig
	trie    []trieNode
	unkCost float64 // score of an unknown character
}

type trieNode struct {
	next map[rune]int32
	id   int32 // piece id ending here, or -1
}

// NewUnigram builds a tokenizer from a vocabulary in id order.
func NewUnigram(vocab []UnigramPiece, cfg UnigramConfig) (*Unigram, error) {
	if len(vocab) == 0 {
		return nil, errors.New("unigram: empty vocabulary")
	}
	if cfg.UnkID < 0 || cfg.UnkID >= len(vocab) {
		return nil, fmt.Errorf("unigram: unk id %d outside the vocabulary of %d pieces", cfg.UnkID, len(vocab))
	}
	switch cfg.Viterbi {
	case "":
		cfg.Viterbi = ViterbiHF
	case ViterbiHF, ViterbiTFJS:
	default:
		return nil, fmt.Errorf("unigram: unknown Viterbi variant %q (want %q or %q)", cfg.Viterbi, ViterbiHF, ViterbiTFJS)
	}
	for i, n := range cfg.Normalizers {
		if err := n.validate(); err != nil {
			return nil, fmt.Errorf("unigram: normalizer %d: %w", i, err)
		}
	}
	u := &Unigram{
		pieces: vocab,
		steps:  make([]int, len(vocab)),
		cfg:    cfg,
		trie:   []trieNode{{id: -1}},
	}
	minScore := 0.0
	for id, p := range vocab {
		u.steps[id] = len(utf16.Encode([]rune(p.Piece)))
		if id == 0 || p.Score < minScore {
			minScore = p.Score
		}
		if id < cfg.TrieMinID || p.Piece == "" {
			continue
		}
		u.insert(p.Piece, id)
	}
	if cfg.Viterbi == ViterbiHF {
		u.unkCost = minScore - 10
	}
	return u, nil
}

// insert adds a piece; a later duplicate replaces an earlier one, as in the
// TF.js trie.
func (u *Unigram) insert(piece string, id int) {
	n := int32(0)
	for _, r := range piece {
		next, ok := u.trie[n].next[r]
		if !ok {
			next = int32(len(u.trie))
			u.trie = append(u.trie, trieNode{id: -1})
			if u.trie[n].next == nil {
				u.trie[n].next = map[rune]int32{}
			}
			u.trie[n].next[r] = next
		}
		n = next
	}
	u.trie[n].id = int32(id)
}

// Normalize applies the tokenizer's normalizers to text.
func (u *Unigram) Normalize(text string) string {
	for _, n := range u.cfg.Normalizers {
		text = n.apply(text)
	}
	return text
}

// Encode tokenizes text. maxLen > 0 keeps the first maxLen ids, as the
// Universal Sentence Encoder graph does with positions >= 128. The empty
// string (and text that normalizes to nothing) gives no ids.
func (u *Unigram) Encode(text string, maxLen int) Encoding {
	var enc Encoding
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
		enc.InvalidUTF8 = true
	}
	ids := u.segment([]rune(u.Normalize(text)))
	if maxLen > 0 && len(ids) > maxLen {
		ids = ids[:maxLen]
		enc.Truncated = true
	}
	enc.IDs = make([]int64, len(ids))
	enc.TypeIDs = make([]int64, len(ids))
	enc.Tokens = make([]string, len(ids))
	for i, id := range ids {
		enc.IDs[i] = int64(id)
		enc.Tokens[i] = u.pieces[id].Piece
	}
	return enc
}

// EncodePair always fails: a unigram sentence encoder has no pair template.
func (u *Unigram) EncodePair(a, b string, maxLen int) (Encoding, error) {
	return Encoding{}, errors.New("unigram tokenizer has no sentence-pair template; encode each text on its own")
}

// PadID is the id batches are padded with.
func (u *Unigram) PadID() int64 { return u.cfg.PadID }

// VocabSize is the number of pieces.
func (u *Unigram) VocabSize() int { return len(u.pieces) }

// Piece returns the piece with the given id.
func (u *Unigram) Piece(id int) (UnigramPiece, bool) {
	if id < 0 || id >= len(u.pieces) {
		return UnigramPiece{}, false
	}
	return u.pieces[id], true
}

// segment runs the Viterbi search over the code points of s and returns
// piece ids with runs of unknowns fused.
func (u *Unigram) segment(s []rune) []int {
	n := len(s)
	if n == 0 {
		return nil
	}
	tfjs := u.cfg.Viterbi == ViterbiTFJS
	best := make([]float64, n+1)
	word := make([]int32, n+1)
	from := make([]int32, n+1) // start of the best last piece (HF backtracking)
	set := make([]bool, n+1)
	set[0] = true
	relax := func(start, end int, id int32, score float64) {
		v := score + best[start]
		var take bool
		if tfjs {
			// best[end] === 0 || v >= best[end]
			take = best[end] == 0 || v >= best[end]
		} else {
			take = !set[end] || v > best[end]
		}
		if take {
			best[end], word[end], from[end], set[end] = v, id, int32(start), true
		}
	}
	// Going forward over starts visits, for every end, its candidates in
	// increasing start order, exactly as the TF.js loop over nodes[end] does,
	// and best[start] is final before it is used.
	for i := 0; i < n; i++ {
		found, single := false, false
		node := int32(0)
		for j := i; j < n; j++ {
			next, ok := u.trie[node].next[s[j]]
			if !ok {
				break
			}
			node = next
			if id := u.trie[node].id; id >= 0 {
				found = true
				single = single || j == i
				relax(i, j+1, id, u.pieces[id].Score)
			}
		}
		if (tfjs && !found) || (!tfjs && !single) {
			relax(i, i+1, int32(u.cfg.UnkID), u.unkCost)
		}
	}
	var rev []int
	unk := int32(u.cfg.UnkID)
	prevUnk := false
	for it := n; it > 0; {
		id := word[it]
		if !(prevUnk && id == unk) {
			rev = append(rev, int(id))
		}
		prevUnk = id == unk
		switch {
		case tfjs && id == unk:
			// An unknown covers one code point. (TF.js steps by the
			// length of vocab[0], which is "�" in the USE vocab: the
			// same step.)
			it--
		case tfjs:
			it -= u.steps[id]
		default:
			it = int(from[it])
		}
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}
