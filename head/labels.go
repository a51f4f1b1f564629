package head

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// LabelNames returns the sorted distinct labels of raw: numerically when
// every label is an integer (names in canonical form, so "01" and "1"
// are one class), otherwise as strings. Labels are trimmed; an empty
// label is an error naming its row (1-based).
func LabelNames(raw []string) ([]string, error) {
	if len(raw) == 0 {
		return nil, errors.New("no labels")
	}
	seen := map[string]bool{}
	var names []string
	allInts := true
	for i, r := range raw {
		s := strings.TrimSpace(r)
		if s == "" {
			return nil, fmt.Errorf("row %d: empty label", i+1)
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			allInts = false
		}
		if !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
	}
	if !allInts {
		sort.Strings(names)
		return names, nil
	}
	vals := make([]int64, 0, len(names))
	have := map[int64]bool{}
	for _, s := range names {
		v, _ := strconv.ParseInt(s, 10, 64)
		if !have[v] {
			have[v] = true
			vals = append(vals, v)
		}
	}
	sort.Slice(vals, func(a, b int) bool { return vals[a] < vals[b] })
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strconv.FormatInt(v, 10)
	}
	return out, nil
}

// EncodeLabels maps raw labels to indexes into names. A label that is
// not a name (also after integer canonicalisation) is an error naming
// its row (1-based) and the known names.
func EncodeLabels(raw []string, names []string) ([]int, error) {
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	y := make([]int, len(raw))
	for i, r := range raw {
		s := strings.TrimSpace(r)
		c, ok := index[s]
		if !ok {
			if v, err := strconv.ParseInt(s, 10, 64); err == nil {
				c, ok = index[strconv.FormatInt(v, 10)]
			}
		}
		if !ok {
			return nil, &UnknownLabelError{Row: i + 1, Label: s, Known: names}
		}
		y[i] = c
	}
	return y, nil
}

// UnknownLabelError reports a label outside the known set, typically a
// validation label that never occurs in training.
type UnknownLabelError struct {
	Row   int // 1-based
	Label string
	Known []string
}

func (e *UnknownLabelError) Error() string {
	return fmt.Sprintf("row %d: label %q does not occur in the training data (training labels: %s)", e.Row, e.Label, quoteList(e.Known))
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}
