package corpus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Well-known column names, lower case. Text names are matched in header
// order, label names in this priority order ("label" wins over "cat").
var (
	textNames = []string{"text", "sentence", "review", "content", "text_a", "sentence1",
		"document", "question", "body", "comment", "tweet", "utterance", "query", "title", "message", "review_text"}
	labelNames = []string{"label", "labels", "class", "category", "target", "sentiment",
		"y", "intent", "topic", "cat", "polarity", "tag"}
)

func isKnown(names []string, s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, n := range names {
		if s == n {
			return true
		}
	}
	return false
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

// nameLike reports whether s could be a column name: short, not a
// number, at most two spaces, letters, digits and _-. only.
func nameLike(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > 64 || isNumber(s) || strings.Count(s, " ") > 2 {
		return false
	}
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune("_-. ", c) {
			return false
		}
	}
	return true
}

// colStats summarises one column over the sniffed rows.
type colStats struct {
	n, numeric, spacey int
	runes              int
}

func (c colStats) nonNumericFrac() float64 { return 1 - float64(c.numeric)/float64(max(c.n, 1)) }
func (c colStats) meanLen() float64        { return float64(c.runes) / float64(max(c.n, 1)) }

// textLike: mostly non-numeric, and either long or usually holding spaces.
func (c colStats) textLike() bool {
	return c.n > 0 && c.nonNumericFrac() >= 0.9 &&
		(c.meanLen() >= 20 || float64(c.spacey) >= 0.5*float64(c.n))
}

func stats(rows []record, ncol int) []colStats {
	st := make([]colStats, ncol)
	for _, r := range rows {
		if len(r.fields) != ncol {
			continue // reported as ragged when the row is reached
		}
		for j, f := range r.fields {
			if r.bad != nil && r.bad[j] != "" {
				continue
			}
			st[j].n++
			st[j].runes += utf8.RuneCountInString(f)
			if isNumber(f) {
				st[j].numeric++
			}
			if strings.ContainsAny(strings.TrimSpace(f), " \u3000") {
				st[j].spacey++
			}
		}
	}
	return st
}

// looksLikeHeader decides HeaderAuto for CSV and TSV.
func looksLikeHeader(first record, rest []record) bool {
	for _, f := range first.fields {
		if !nameLike(f) {
			return false
		}
	}
	for _, f := range first.fields {
		if isKnown(textNames, f) || isKnown(labelNames, f) {
			return true
		}
	}
	st := stats(rest, len(first.fields))
	for j, f := range first.fields {
		if strings.Contains(strings.TrimSpace(f), " ") || st[j].n == 0 {
			continue
		}
		if float64(st[j].numeric) >= 0.9*float64(st[j].n) || st[j].textLike() {
			return true
		}
	}
	return false
}

// detect settles the header, the columns and the text and label columns.
func (r *Reader) detect(opts Options) error {
	switch src := r.src.(type) {
	case *textSource:
		r.columns = []string{"text"}
	case *jsonlSource:
		r.columns, r.header = src.columns, true
	default:
		first := r.buf[0]
		switch opts.Header {
		case HeaderPresent:
			r.header = true
		case HeaderAbsent:
		default:
			r.header = looksLikeHeader(first, r.buf[1:])
		}
		if r.header {
			r.columns = make([]string, len(first.fields))
			for i, f := range first.fields {
				r.columns[i] = strings.TrimSpace(f)
			}
			r.headerLine = first.line
			r.buf = r.buf[1:]
			if len(r.buf) == 0 {
				return fmt.Errorf("%w: only a header (%s)", ErrEmpty, listColumns(r.columns))
			}
		} else {
			r.columns = make([]string, len(first.fields))
			for i := range r.columns {
				r.columns[i] = strconv.Itoa(i + 1)
			}
		}
	}
	st := stats(r.buf, len(r.columns))
	var err error
	if opts.LabelColumn != "" && opts.Labels {
		if r.label, err = columnIndex(r.columns, opts.LabelColumn); err != nil {
			return fmt.Errorf("label %w", err)
		}
	}
	if opts.TextColumn != "" {
		if r.text, err = columnIndex(r.columns, opts.TextColumn); err != nil {
			return fmt.Errorf("text %w", err)
		}
	} else if r.text, err = r.guessText(st); err != nil {
		return err
	}
	if opts.Labels && opts.LabelColumn == "" {
		if r.label, err = r.guessLabel(st); err != nil {
			return err
		}
	}
	if r.label == r.text {
		return fmt.Errorf("text and label are both column %q; name them apart (columns found: %s)", r.columns[r.text], listColumns(r.columns))
	}
	return nil
}

func (r *Reader) guessText(st []colStats) (int, error) {
	if len(r.columns) == 1 {
		return 0, nil
	}
	if r.header {
		for i, c := range r.columns {
			if i != r.label && isKnown(textNames, c) {
				return i, nil
			}
		}
	}
	for i, s := range st {
		if i != r.label && s.textLike() {
			return i, nil
		}
	}
	best := -1
	for i, s := range st {
		if i != r.label && s.n > 0 && s.nonNumericFrac() >= 0.9 && (best < 0 || s.meanLen() > st[best].meanLen()) {
			best = i
		}
	}
	if best < 0 {
		return -1, fmt.Errorf("no text column found among %s; name the text column", listColumns(r.columns))
	}
	return best, nil
}

func (r *Reader) guessLabel(st []colStats) (int, error) {
	if r.header {
		for _, n := range labelNames {
			for i, c := range r.columns {
				if i != r.text && strings.EqualFold(strings.TrimSpace(c), n) {
					return i, nil
				}
			}
		}
	} else {
		for i := len(r.columns) - 1; i >= 0; i-- {
			if i != r.text && st[i].n > 0 && st[i].meanLen() <= 32 {
				return i, nil
			}
		}
	}
	if len(r.columns) == 1 {
		return -1, errors.New("the file has one column, so no labels; add a label column")
	}
	return -1, fmt.Errorf("no label column found among %s; name the label column", listColumns(r.columns))
}
