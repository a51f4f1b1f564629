package serve

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TrainSet is an uploaded, labelled training set.
type TrainSet struct {
	Texts  []string
	Labels []string
}

// Upload formats ParseTrainSet reads.
const (
	FormatCSV   = "csv"
	FormatTSV   = "tsv"
	FormatJSONL = "jsonl"
)

var (
	textColumns  = []string{"text", "sentence", "text_a", "review", "content", "document", "sentence1", "question"}
	labelColumns = []string{"label", "labels", "class", "category", "target", "y"}
)

// ParseTrainSet reads CSV or TSV (with a header row) or JSON Lines
// ({"text": ..., "label": ...}; labels may be strings or numbers). textCol
// and labelCol name the columns or keys; empty picks the first of the
// usual names (text, sentence, text_a, ... / label, class, ...). maxRows
// bounds the examples. Errors name the line at fault.
func ParseTrainSet(data []byte, format, textCol, labelCol string, maxRows int) (*TrainSet, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if format == "" {
		format = SniffFormat(data)
	}
	var (
		set *TrainSet
		err error
	)
	switch format {
	case FormatJSONL:
		set, err = parseJSONL(data, textCol, labelCol, maxRows)
	case FormatCSV, FormatTSV:
		set, err = parseTable(data, format, textCol, labelCol, maxRows)
	default:
		return nil, fmt.Errorf("unknown data format %q: use csv, tsv or jsonl", format)
	}
	if err != nil {
		return nil, err
	}
	if len(set.Texts) == 0 {
		return nil, errors.New("the data has no examples")
	}
	return set, nil
}

// SniffFormat guesses the format of an upload from its first line.
func SniffFormat(data []byte) string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return FormatJSONL
	}
	first, _, _ := bytes.Cut(trimmed, []byte("\n"))
	if bytes.Count(first, []byte("\t")) > 0 {
		return FormatTSV
	}
	return FormatCSV
}

// ErrTooManyExamples is wrapped by ParseTrainSet when maxRows is exceeded.
var ErrTooManyExamples = errors.New("too many examples")

func parseJSONL(data []byte, textCol, labelCol string, maxRows int) (*TrainSet, error) {
	set := &TrainSet{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), len(data)+1)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("line %d: not a JSON object: %v", line, err)
		}
		tk, lk := textCol, labelCol
		if tk == "" {
			tk = firstKey(obj, textColumns)
		}
		if lk == "" {
			lk = firstKey(obj, labelColumns)
		}
		traw, ok := obj[tk]
		if tk == "" || !ok {
			return nil, fmt.Errorf("line %d: no text field %s; fields found: %s", line, describeWanted(textCol, textColumns), quoteList(sortedKeys(obj)))
		}
		lraw, ok := obj[lk]
		if lk == "" || !ok {
			return nil, fmt.Errorf("line %d: no label field %s; fields found: %s", line, describeWanted(labelCol, labelColumns), quoteList(sortedKeys(obj)))
		}
		var text string
		if err := json.Unmarshal(traw, &text); err != nil {
			return nil, fmt.Errorf("line %d: field %q must be a string", line, tk)
		}
		label, err := jsonLabel(lraw)
		if err != nil {
			return nil, fmt.Errorf("line %d: field %q: %v", line, lk, err)
		}
		if err := set.add(text, label, line, maxRows); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading JSON Lines: %w", err)
	}
	return set, nil
}

func jsonLabel(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err == nil {
		return n.String(), nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return strconv.FormatBool(b), nil
	}
	return "", errors.New("a label must be a string, a number or a boolean")
}

func firstKey[V any](m map[string]V, names []string) string {
	for _, n := range names {
		if _, ok := m[n]; ok {
			return n
		}
	}
	// Case-insensitive second pass.
	for _, n := range names {
		for k := range m {
			if strings.EqualFold(k, n) {
				return k
			}
		}
	}
	return ""
}

func describeWanted(col string, defaults []string) string {
	if col != "" {
		return fmt.Sprintf("%q", col)
	}
	return "(tried " + strings.Join(defaults, ", ") + "; name it with text_col/label_col)"
}

func parseTable(data []byte, format, textCol, labelCol string, maxRows int) (*TrainSet, error) {
	rows, err := readRows(data, format)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errors.New("the data is empty: expected a header row, then one example per row")
	}
	header := rows[0].fields
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := cols[h]; !dup {
			cols[h] = i
		}
	}
	tk, lk := textCol, labelCol
	if tk == "" {
		tk = firstKey(cols, textColumns)
	}
	if lk == "" {
		lk = firstKey(cols, labelColumns)
	}
	ti, ok := cols[tk]
	if tk == "" || !ok {
		return nil, fmt.Errorf("no text column %s; the header has %s", describeWanted(textCol, textColumns), quoteList(header))
	}
	li, ok := cols[lk]
	if lk == "" || !ok {
		return nil, fmt.Errorf("no label column %s; the header has %s", describeWanted(labelCol, labelColumns), quoteList(header))
	}
	set := &TrainSet{}
	for _, r := range rows[1:] {
		if len(r.fields) == 1 && strings.TrimSpace(r.fields[0]) == "" {
			continue
		}
		if len(r.fields) != len(header) {
			return nil, fmt.Errorf("line %d has %d fields, the header has %d", r.line, len(r.fields), len(header))
		}
		if err := set.add(r.fields[ti], strings.TrimSpace(r.fields[li]), r.line, maxRows); err != nil {
			return nil, err
		}
	}
	return set, nil
}

type row struct {
	line   int
	fields []string
}

// readRows splits CSV with encoding/csv (quotes allowed) and TSV on tabs
// (no quoting: TSV files in the wild carry bare quotes in their text).
func readRows(data []byte, format string) ([]row, error) {
	var rows []row
	if format == FormatTSV {
		for i, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSuffix(l, "\r")
			if l == "" {
				continue
			}
			rows = append(rows, row{line: i + 1, fields: strings.Split(l, "\t")})
		}
		return rows, nil
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading CSV: %w", err)
		}
		line, _ := r.FieldPos(0)
		rows = append(rows, row{line: line, fields: rec})
	}
}

func (s *TrainSet) add(text, label string, line, maxRows int) error {
	if label == "" {
		return fmt.Errorf("line %d: the label is empty", line)
	}
	if !utf8.ValidString(text) || !utf8.ValidString(label) {
		return fmt.Errorf("line %d: not valid UTF-8; save the file as UTF-8", line)
	}
	if maxRows > 0 && len(s.Texts) >= maxRows {
		return fmt.Errorf("%w: more than %d examples; split the data or raise the limit", ErrTooManyExamples, maxRows)
	}
	s.Texts = append(s.Texts, text)
	s.Labels = append(s.Labels, label)
	return nil
}

// Classes returns the distinct labels in first-seen order and the count of
// each.
func (s *TrainSet) Classes() ([]string, map[string]int) {
	counts := map[string]int{}
	var order []string
	for _, l := range s.Labels {
		if counts[l] == 0 {
			order = append(order, l)
		}
		counts[l]++
	}
	return order, counts
}

// Check requires at least two classes and at least minPerClass examples of
// each.
func (s *TrainSet) Check(minPerClass int) error {
	classes, counts := s.Classes()
	if len(classes) < 2 {
		return fmt.Errorf("the data has %d class (%s); a classifier needs at least 2", len(classes), quoteList(classes))
	}
	var few []string
	for _, c := range classes {
		if counts[c] < minPerClass {
			few = append(few, fmt.Sprintf("%q (%d)", c, counts[c]))
		}
	}
	if len(few) > 0 {
		slices.Sort(few)
		return fmt.Errorf("every class needs at least %d examples; too few for %s", minPerClass, strings.Join(few, ", "))
	}
	return nil
}
