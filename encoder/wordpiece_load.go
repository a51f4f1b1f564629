package encoder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	sugar "github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/model/wordpiece"
	"github.com/sugarme/tokenizer/pretrained"
)

// LoadWordPiece reads a WordPiece tokenizer from a Hugging Face
// tokenizer.json, or from a BERT vocab.txt with the optional
// tokenizer_config.json next to it (do_lower_case, strip_accents,
// tokenize_chinese_chars, and the special tokens).
func LoadWordPiece(path string) (*WordPiece, error) {
	if filepath.Ext(path) == ".txt" {
		return loadVocabTxt(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading WordPiece tokenizer: %w", err)
	}
	w, err := ParseWordPiece(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// ParseWordPiece builds a WordPiece tokenizer from tokenizer.json bytes.
// The file is decoded with github.com/sugarme/tokenizer's Config and its
// vocabulary built by sugarme's WordPiece model; the pipeline settings are
// read here because sugarme drops some (strip_accents null, the
// continuing-subword prefix). The file's padding and truncation are ignored:
// the batcher pads and Encode truncates to its maxLen. Supported: a
// BertNormalizer (or none), a BertPreTokenizer, and a TemplateProcessing or
// BertProcessing post-processor (or none).
func ParseWordPiece(data []byte) (*WordPiece, error) {
	var cfg sugar.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	if cfg.Model == nil {
		return nil, errors.New(`tokenizer.json has no "model"`)
	}
	if typ := modelType(cfg.Model, cfg.Decoder); typ != "WordPiece" {
		return nil, fmt.Errorf("model type %q is not WordPiece", typ)
	}
	var c WordPieceConfig
	if err := parseBertNormalizer(cfg.Normalizer, &c); err != nil {
		return nil, err
	}
	if cfg.PreTokenizer == nil || cfg.PreTokenizer["type"] != "BertPreTokenizer" {
		return nil, fmt.Errorf("pre_tokenizer %v is not supported for WordPiece; bertserve supports BertPreTokenizer", typeOf(cfg.PreTokenizer))
	}
	c.UnkToken, c.ContinuingSubwordPrefix, c.MaxInputCharsPerWord = "[UNK]", "##", 100
	if s, ok := cfg.Model["unk_token"].(string); ok {
		c.UnkToken = s
	}
	if s, ok := cfg.Model["continuing_subword_prefix"].(string); ok {
		c.ContinuingSubwordPrefix = s
	}
	if n, ok := cfg.Model["max_input_chars_per_word"].(float64); ok {
		c.MaxInputCharsPerWord = int(n)
	}
	vocab, err := sugarVocab(&cfg)
	if err != nil {
		return nil, err
	}
	for _, t := range cfg.AddedTokens {
		c.AddedTokens = append(c.AddedTokens, AddedToken{ID: t.Id, Content: t.Content, Normalized: t.Normalized,
			SingleWord: t.SingleWord, LStrip: t.Lstrip, RStrip: t.Rstrip})
	}
	if err := parsePostProcessor(cfg.PostProcessor, &c); err != nil {
		return nil, err
	}
	c.PadToken = "[PAD]"
	if s, ok := cfg.Padding["pad_token"].(string); ok {
		c.PadToken = s
	}
	if _, ok := vocab[c.PadToken]; !ok && !hasAdded(c.AddedTokens, c.PadToken) {
		c.PadToken = "" // pad with id 0
	}
	return NewWordPiece(vocab, c)
}

// modelType is model.type, or for files without it (bert-base-chinese's)
// the type the decoder implies.
func modelType(model, decoder map[string]any) string {
	if t, ok := model["type"].(string); ok {
		return t
	}
	if t, ok := decoder["type"].(string); ok && t == "WordPiece" {
		return "WordPiece"
	}
	if _, ok := model["continuing_subword_prefix"]; ok {
		if _, ok := model["merges"]; !ok {
			return "WordPiece"
		}
	}
	if _, ok := model["vocab"].([]any); ok {
		return "Unigram"
	}
	return ""
}

func typeOf(m map[string]any) string {
	if m == nil {
		return "null"
	}
	return fmt.Sprintf("%q", m["type"])
}

// sugarVocab builds sugarme's WordPiece model from the config and returns
// its vocabulary. sugarme panics on malformed fields, so the panic becomes
// an error.
func sugarVocab(cfg *sugar.Config) (vocab map[string]int, err error) {
	if _, ok := cfg.Model["vocab"].(map[string]any); !ok {
		return nil, errors.New(`model.vocab is not an object of token -> id`)
	}
	if _, ok := cfg.Model["unk_token"]; ok {
		if _, ok := cfg.Model["unk_token"].(string); !ok {
			return nil, errors.New(`model.unk_token is not a string`)
		}
	}
	cfg.Model["type"] = "WordPiece"
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("building the WordPiece model: %v", r)
		}
	}()
	m, err := pretrained.CreateModel(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the WordPiece model: %w", err)
	}
	return m.GetVocab(), nil
}

func parseBertNormalizer(n map[string]any, c *WordPieceConfig) error {
	if n == nil {
		return nil
	}
	if n["type"] != "BertNormalizer" {
		return fmt.Errorf("normalizer %s is not supported for WordPiece; bertserve supports BertNormalizer", typeOf(n))
	}
	flag := func(key string, def bool) (bool, error) {
		switch v := n[key].(type) {
		case nil:
			return def, nil
		case bool:
			return v, nil
		default:
			return false, fmt.Errorf("normalizer.%s is %v, want true, false or null", key, v)
		}
	}
	var err error
	if c.CleanText, err = flag("clean_text", true); err != nil {
		return err
	}
	if c.HandleChineseChars, err = flag("handle_chinese_chars", true); err != nil {
		return err
	}
	if c.Lowercase, err = flag("lowercase", true); err != nil {
		return err
	}
	// "strip_accents": null follows lowercase, as in Hugging Face (and
	// unlike sugarme v0.3.0, which never strips then).
	c.StripAccents, err = flag("strip_accents", c.Lowercase)
	return err
}

func parsePostProcessor(p map[string]any, c *WordPieceConfig) error {
	if p == nil {
		return nil
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	switch p["type"] {
	case "BertProcessing":
		var bp struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &bp); err != nil {
			return fmt.Errorf("post_processor BertProcessing: %w", err)
		}
		var sep, cls string
		var sepID, clsID int64
		for _, f := range []struct {
			raw json.RawMessage
			v   any
		}{{bp.Sep[0], &sep}, {bp.Sep[1], &sepID}, {bp.Cls[0], &cls}, {bp.Cls[1], &clsID}} {
			if err := json.Unmarshal(f.raw, f.v); err != nil {
				return fmt.Errorf("post_processor BertProcessing: want sep and cls as [token, id]: %w", err)
			}
		}
		c.Single, c.Pair = BERTTemplate(cls, clsID, sep, sepID)
		return nil
	case "TemplateProcessing":
		return parseTemplate(raw, c)
	default:
		return fmt.Errorf("post_processor %s is not supported for WordPiece; bertserve supports TemplateProcessing and BertProcessing", typeOf(p))
	}
}

func parseTemplate(raw []byte, c *WordPieceConfig) error {
	type item struct {
		SpecialToken *struct {
			ID     string `json:"id"`
			TypeID int64  `json:"type_id"`
		}
		Sequence *struct {
			ID     string `json:"id"`
			TypeID int64  `json:"type_id"`
		}
	}
	var tp struct {
		Single        []item `json:"single"`
		Pair          []item `json:"pair"`
		SpecialTokens map[string]struct {
			IDs    []int64  `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"special_tokens"`
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&tp); err != nil {
		return fmt.Errorf("post_processor TemplateProcessing: %w", err)
	}
	conv := func(items []item) ([]TemplatePiece, error) {
		var out []TemplatePiece
		for _, it := range items {
			switch {
			case it.Sequence != nil:
				out = append(out, TemplatePiece{Sequence: it.Sequence.ID, TypeID: it.Sequence.TypeID})
			case it.SpecialToken != nil:
				st, ok := tp.SpecialTokens[it.SpecialToken.ID]
				if !ok || len(st.IDs) != len(st.Tokens) {
					return nil, fmt.Errorf("post_processor: special token %q missing from special_tokens or with unequal ids and tokens", it.SpecialToken.ID)
				}
				for i := range st.IDs {
					out = append(out, TemplatePiece{Token: st.Tokens[i], ID: st.IDs[i], TypeID: it.SpecialToken.TypeID})
				}
			default:
				return nil, errors.New("post_processor: template item is neither SpecialToken nor Sequence")
			}
		}
		return out, nil
	}
	var err error
	if c.Single, err = conv(tp.Single); err != nil {
		return err
	}
	c.Pair, err = conv(tp.Pair)
	return err
}

func hasAdded(ts []AddedToken, content string) bool {
	for _, t := range ts {
		if t.Content == content {
			return true
		}
	}
	return false
}

// loadVocabTxt reads a BERT vocab.txt (one token per line, id = line
// number) with sugarme's WordPiece reader, and the tokenizer_config.json
// next to it, and builds the pipeline transformers' BertTokenizerFast uses.
func loadVocabTxt(path string) (*WordPiece, error) {
	var tc struct {
		DoLowerCase          *bool `json:"do_lower_case"`
		StripAccents         *bool `json:"strip_accents"`
		TokenizeChineseChars *bool `json:"tokenize_chinese_chars"`
		Unk                  any   `json:"unk_token"`
		Sep                  any   `json:"sep_token"`
		Pad                  any   `json:"pad_token"`
		Cls                  any   `json:"cls_token"`
		Mask                 any   `json:"mask_token"`
	}
	cfgPath := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	if b, err := os.ReadFile(cfgPath); err == nil {
		if err := json.Unmarshal(b, &tc); err != nil {
			return nil, fmt.Errorf("%s is not valid JSON: %w", cfgPath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	tokName := func(v any, def string) string {
		switch t := v.(type) {
		case string:
			return t
		case map[string]any:
			if s, ok := t["content"].(string); ok {
				return s
			}
		}
		return def
	}
	unk := tokName(tc.Unk, "[UNK]")
	model, err := wordpiece.NewWordPieceFromFile(path, unk)
	if err != nil {
		return nil, fmt.Errorf("reading vocabulary: %w", err)
	}
	vocab := model.GetVocab()
	c := WordPieceConfig{CleanText: true, HandleChineseChars: true, Lowercase: true,
		UnkToken: unk, ContinuingSubwordPrefix: "##", MaxInputCharsPerWord: 100}
	if tc.DoLowerCase != nil {
		c.Lowercase = *tc.DoLowerCase
	}
	c.StripAccents = c.Lowercase
	if tc.StripAccents != nil {
		c.StripAccents = *tc.StripAccents
	}
	if tc.TokenizeChineseChars != nil {
		c.HandleChineseChars = *tc.TokenizeChineseChars
	}
	cls, sep := tokName(tc.Cls, "[CLS]"), tokName(tc.Sep, "[SEP]")
	c.PadToken = tokName(tc.Pad, "[PAD]")
	for _, t := range []string{c.PadToken, unk, cls, sep, tokName(tc.Mask, "[MASK]")} {
		id, ok := vocab[t]
		if !ok {
			return nil, fmt.Errorf("%s: special token %q is not in the vocabulary; set it in tokenizer_config.json", path, t)
		}
		c.AddedTokens = append(c.AddedTokens, AddedToken{ID: int64(id), Content: t})
	}
	c.Single, c.Pair = BERTTemplate(cls, int64(vocab[cls]), sep, int64(vocab[sep]))
	w, err := NewWordPiece(vocab, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}
