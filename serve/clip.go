package serve

import (
	"fmt"
	"unicode/utf8"
)

// maxEcho is the most bytes of a client's value that an error message or
// a log line repeats. A 2 MB head name must not come back as a 2 MB error
// body, nor fill the log.
const maxEcho = 128

// clip shortens s to at most maxEcho bytes (on a rune boundary), saying
// how long it was.
func clip(s string) string { return clipTo(s, maxEcho) }

func clipTo(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

// maxEchoErr bounds an error argument: errors carry our own explanations,
// which are longer than a value, and clip the values they quote already.
const maxEchoErr = 1024

// clipArgs clips every string argument of an error message (and, to a
// larger bound, every error argument): the rule that keeps echoed input
// bounded on every route, applied where messages are built (newError).
func clipArgs(args []any) []any {
	out := args
	for i, a := range args {
		var s string
		limit := maxEcho
		switch v := a.(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		case error:
			s, limit = v.Error(), maxEchoErr
		default:
			continue
		}
		if len(s) <= limit {
			continue
		}
		if &out[0] == &args[0] {
			out = append([]any(nil), args...)
		}
		out[i] = clipTo(s, limit)
	}
	return out
}
