package encoder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// UnigramExtension is the "bertserve" object that MarshalUnigram adds to a
// tokenizer.json. Hugging Face tooling ignores it; ParseUnigram uses it to
// pick the segmentation variant that reproduces the model's own tokenizer.
type UnigramExtension struct {
	// Viterbi is ViterbiHF or ViterbiTFJS.
	Viterbi string `json:"viterbi"`
	// TrieMinID: ids below it are never produced (UnigramConfig.TrieMinID).
	TrieMinID int `json:"trie_min_id,omitempty"`
	// PadID is the id batches are padded with.
	PadID int64 `json:"pad_id"`
	// Note says in words why the extension exists.
	Note string `json:"note,omitempty"`
}

type unigramFile struct {
	Version       string            `json:"version"`
	Truncation    json.RawMessage   `json:"truncation"`
	Padding       json.RawMessage   `json:"padding"`
	AddedTokens   []json.RawMessage `json:"added_tokens"`
	Normalizer    json.RawMessage   `json:"normalizer"`
	PreTokenizer  json.RawMessage   `json:"pre_tokenizer"`
	PostProcessor json.RawMessage   `json:"post_processor"`
	Decoder       json.RawMessage   `json:"decoder"`
	Model         unigramModelJSON  `json:"model"`
	Bertserve     *UnigramExtension `json:"bertserve,omitempty"`
}

type unigramModelJSON struct {
	Type         string              `json:"type"`
	UnkID        *int                `json:"unk_id"`
	Vocab        [][]json.RawMessage `json:"vocab"`
	ByteFallback bool                `json:"byte_fallback"`
}

type normalizerJSON struct {
	Type        string           `json:"type"`
	Normalizers []normalizerJSON `json:"normalizers,omitempty"`
	Pattern     *patternJSON     `json:"pattern,omitempty"`
	Content     *string          `json:"content,omitempty"`
	Prepend     *string          `json:"prepend,omitempty"`
}

type patternJSON struct {
	String *string `json:"String,omitempty"`
	Regex  *string `json:"Regex,omitempty"`
}

// LoadUnigram reads a Hugging Face tokenizer.json whose model.type is
// "Unigram" (see ParseUnigram).
func LoadUnigram(path string) (Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading unigram tokenizer: %w", err)
	}
	u, err := ParseUnigram(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// ParseUnigram builds a Unigram tokenizer from tokenizer.json bytes. It
// supports the files MarshalUnigram writes and plain Hugging Face Unigram
// files whose normalizer is a sequence of NFC/NFD/NFKC/NFKD, Lowercase,
// Replace (string pattern) and Prepend, with no pre-tokenizer, no
// post-processor and no byte fallback; anything else is an error naming the
// unsupported part. A "bertserve" object selects the segmentation variant;
// without it the Hugging Face variant is used.
func ParseUnigram(data []byte) (*Unigram, error) {
	var f unigramFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parsing tokenizer.json: %w", err)
	}
	if f.Model.Type != "Unigram" {
		return nil, fmt.Errorf("tokenizer.json model.type is %q, not \"Unigram\"", f.Model.Type)
	}
	if f.Model.ByteFallback {
		return nil, fmt.Errorf("unigram byte_fallback is not supported")
	}
	if !isNull(f.PreTokenizer) {
		return nil, fmt.Errorf("unigram tokenizer.json with a pre_tokenizer is not supported (only pre_tokenizer null)")
	}
	if !isNull(f.PostProcessor) {
		return nil, fmt.Errorf("unigram tokenizer.json with a post_processor is not supported (only post_processor null)")
	}
	if len(f.AddedTokens) > 0 {
		return nil, fmt.Errorf("unigram tokenizer.json with added_tokens is not supported")
	}
	vocab := make([]UnigramPiece, len(f.Model.Vocab))
	for i, e := range f.Model.Vocab {
		if len(e) != 2 {
			return nil, fmt.Errorf("vocab entry %d has %d elements, want [piece, score]", i, len(e))
		}
		if err := json.Unmarshal(e[0], &vocab[i].Piece); err != nil {
			return nil, fmt.Errorf("vocab entry %d piece: %w", i, err)
		}
		var score *float64 // null scores act as 0, as in JavaScript (null + x === x)
		if err := json.Unmarshal(e[1], &score); err != nil {
			return nil, fmt.Errorf("vocab entry %d score: %w", i, err)
		}
		if score != nil {
			vocab[i].Score = *score
		}
	}
	cfg := UnigramConfig{Viterbi: ViterbiHF}
	if f.Model.UnkID != nil {
		cfg.UnkID = *f.Model.UnkID
	}
	if f.Bertserve != nil {
		cfg.Viterbi = f.Bertserve.Viterbi
		cfg.TrieMinID = f.Bertserve.TrieMinID
		cfg.PadID = f.Bertserve.PadID
	}
	if !isNull(f.Normalizer) {
		var n normalizerJSON
		if err := json.Unmarshal(f.Normalizer, &n); err != nil {
			return nil, fmt.Errorf("parsing normalizer: %w", err)
		}
		steps, err := flattenNormalizer(n)
		if err != nil {
			return nil, err
		}
		cfg.Normalizers = steps
	}
	return NewUnigram(vocab, cfg)
}

func isNull(m json.RawMessage) bool {
	m = bytes.TrimSpace(m)
	return len(m) == 0 || bytes.Equal(m, []byte("null"))
}

func flattenNormalizer(n normalizerJSON) ([]Normalizer, error) {
	switch n.Type {
	case "Sequence":
		var out []Normalizer
		for _, c := range n.Normalizers {
			s, err := flattenNormalizer(c)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	case "Replace":
		if n.Pattern == nil || n.Pattern.String == nil || n.Content == nil {
			return nil, fmt.Errorf("Replace normalizer needs a string pattern and a content (regex patterns are not supported)")
		}
		return []Normalizer{{Type: "Replace", Pattern: *n.Pattern.String, Content: *n.Content}}, nil
	case "Prepend":
		if n.Prepend == nil {
			return nil, fmt.Errorf("Prepend normalizer without a prepend string")
		}
		return []Normalizer{{Type: "Prepend", Prepend: *n.Prepend}}, nil
	}
	s := Normalizer{Type: n.Type}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return []Normalizer{s}, nil
}

func (n Normalizer) toJSON() normalizerJSON {
	j := normalizerJSON{Type: n.Type}
	switch n.Type {
	case "Replace":
		p, c := n.Pattern, n.Content
		j.Pattern, j.Content = &patternJSON{String: &p}, &c
	case "Prepend":
		p := n.Prepend
		j.Prepend = &p
	}
	return j
}

// MarshalUnigram writes a Hugging Face tokenizer.json for a unigram
// vocabulary: the normalizers as a Sequence, no pre-tokenizer, no
// post-processor, a Metaspace decoder, and ext (when not nil) as the
// top-level "bertserve" object. Scores must be finite.
func MarshalUnigram(vocab []UnigramPiece, unkID int, normalizers []Normalizer, ext *UnigramExtension) ([]byte, error) {
	seq := normalizerJSON{Type: "Sequence", Normalizers: []normalizerJSON{}}
	for i, n := range normalizers {
		if err := n.validate(); err != nil {
			return nil, fmt.Errorf("normalizer %d: %w", i, err)
		}
		seq.Normalizers = append(seq.Normalizers, n.toJSON())
	}
	rows := make([][]json.RawMessage, len(vocab))
	for i, p := range vocab {
		if math.IsNaN(p.Score) || math.IsInf(p.Score, 0) {
			return nil, fmt.Errorf("vocab entry %d (%q) has score %v", i, p.Piece, p.Score)
		}
		piece, err := json.Marshal(p.Piece)
		if err != nil {
			return nil, err
		}
		score, err := json.Marshal(p.Score)
		if err != nil {
			return nil, err
		}
		rows[i] = []json.RawMessage{piece, score}
	}
	normJSON, err := json.Marshal(seq)
	if err != nil {
		return nil, err
	}
	null := json.RawMessage("null")
	f := unigramFile{
		Version:       "1.0",
		Truncation:    null,
		Padding:       null,
		AddedTokens:   []json.RawMessage{},
		Normalizer:    normJSON,
		PreTokenizer:  null,
		PostProcessor: null,
		Decoder:       json.RawMessage(`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`),
		Model:         unigramModelJSON{Type: "Unigram", UnkID: &unkID, Vocab: rows},
		Bertserve:     ext,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
