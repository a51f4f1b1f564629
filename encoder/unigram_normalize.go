package encoder

import (
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// validate reports a normalizer this package cannot apply.
func (n Normalizer) validate() error {
	switch n.Type {
	case "NFC", "NFD", "NFKC", "NFKD", "Lowercase":
		return nil
	case "Replace":
		if n.Pattern == "" {
			return fmt.Errorf("Replace with an empty pattern")
		}
		return nil
	case "Prepend":
		return nil
	}
	return fmt.Errorf("unsupported normalizer type %q (supported: NFC, NFD, NFKC, NFKD, Lowercase, Replace with a string pattern, Prepend)", n.Type)
}

// apply runs one normalization step. Unicode normalization uses
// golang.org/x/text/unicode/norm; Prepend, like Hugging Face's, leaves the
// empty string alone.
func (n Normalizer) apply(s string) string {
	switch n.Type {
	case "NFC":
		return norm.NFC.String(s)
	case "NFD":
		return norm.NFD.String(s)
	case "NFKC":
		return norm.NFKC.String(s)
	case "NFKD":
		return norm.NFKD.String(s)
	case "Lowercase":
		return strings.ToLower(s)
	case "Replace":
		return strings.ReplaceAll(s, n.Pattern, n.Content)
	case "Prepend":
		if s == "" {
			return s
		}
		return n.Prepend + s
	}
	return s
}
