package encoder

// Encoding is one tokenized input, with special tokens, truncated to the
// requested maximum length but not padded (padding is the batcher's job).
type Encoding struct {
	IDs     []int64
	TypeIDs []int64
	Tokens  []string
	// Truncated is true when tokens were dropped to fit the maximum length.
	Truncated bool
	// InvalidUTF8 is true when the input held invalid UTF-8 that was
	// replaced by U+FFFD before tokenizing.
	InvalidUTF8 bool
}

// Tokenizer turns text into token ids. Implementations must be safe for
// concurrent use by many goroutines.
type Tokenizer interface {
	// Encode tokenizes one text. maxLen counts special tokens; 0 means no
	// limit. It never fails: over-long input is truncated, invalid UTF-8
	// replaced, and the empty string gives just the special tokens.
	Encode(text string, maxLen int) Encoding
	// EncodePair tokenizes a sentence pair with token type ids 0 and 1.
	// Tokenizers that have no pair template return an error.
	EncodePair(a, b string, maxLen int) (Encoding, error)
	// PadID is the id used to pad batches.
	PadID() int64
}
