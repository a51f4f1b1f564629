package corpus

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// record is one raw row: its fields and the line it starts on. bad[i],
// when bad is non-nil and bad[i] is non-empty, says why field i holds no
// usable string (a JSON Lines object without that key, or with a null or
// nested value there).
type record struct {
	line   int
	fields []string
	bad    []string
}

// source yields raw records from one file format.
type source interface {
	next() (record, error) // io.EOF after the last record
}

// stripBOM drops a leading UTF-8 byte-order mark.
func stripBOM(br *bufio.Reader) {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
}

// lineReader reads '\n'-terminated lines with no length limit, dropping
// the terminator and a preceding '\r'.
type lineReader struct {
	br   *bufio.Reader
	line int
}

func (l *lineReader) readLine() (string, error) {
	s, err := l.br.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		return "", err
	}
	l.line++
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// csvSource reads RFC 4180 CSV; quotes are parsed leniently so a bare "
// inside an unquoted field is kept as text.
type csvSource struct{ r *csv.Reader }

func newCSVSource(br *bufio.Reader) *csvSource {
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1 // the Reader checks counts and names the line
	r.LazyQuotes = true
	return &csvSource{r: r}
}

func (s *csvSource) next() (record, error) {
	fields, err := s.r.Read()
	if err != nil {
		if err == io.EOF {
			return record{}, io.EOF
		}
		return record{}, fmt.Errorf("reading CSV: %w", err)
	}
	line, _ := s.r.FieldPos(0)
	return record{line: line, fields: fields}, nil
}

// tsvSource splits each non-blank line on tabs, with no quoting.
type tsvSource struct{ lr lineReader }

func (s *tsvSource) next() (record, error) {
	for {
		text, err := s.lr.readLine()
		if err != nil {
			return record{}, err
		}
		if text == "" {
			continue
		}
		return record{line: s.lr.line, fields: strings.Split(text, "\t")}, nil
	}
}

// textSource yields every line, blank ones included, as a one-field record.
type textSource struct{ lr lineReader }

func (s *textSource) next() (record, error) {
	text, err := s.lr.readLine()
	if err != nil {
		return record{}, err
	}
	return record{line: s.lr.line, fields: []string{text}}, nil
}

// jsonlSource reads one JSON object per non-blank line. The keys of the
// first object, in their order, are the columns; later objects are
// aligned to them (extra keys are ignored, missing ones marked bad).
type jsonlSource struct {
	lr      lineReader
	at      func(line int) string
	columns []string
	index   map[string]int
}

func (s *jsonlSource) next() (record, error) {
	for {
		text, err := s.lr.readLine()
		if err != nil {
			return record{}, err
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		keys, vals, bads, err := parseObject([]byte(text))
		if err != nil {
			return record{}, fmt.Errorf("%s: %w", s.at(s.lr.line), err)
		}
		if s.columns == nil {
			if len(keys) == 0 {
				return record{}, fmt.Errorf("%s: empty JSON object; the first object's keys name the columns", s.at(s.lr.line))
			}
			s.index = make(map[string]int, len(keys))
			for _, k := range keys {
				if _, dup := s.index[k]; !dup {
					s.index[k] = len(s.columns)
					s.columns = append(s.columns, k)
				}
			}
		}
		rec := record{line: s.lr.line, fields: make([]string, len(s.columns)), bad: make([]string, len(s.columns))}
		for i := range rec.bad {
			rec.bad[i] = "no such key"
		}
		for i, k := range keys {
			if j, ok := s.index[k]; ok {
				rec.fields[j], rec.bad[j] = vals[i], bads[i]
			}
		}
		return rec, nil
	}
}

// parseObject decodes one JSON object, keeping its keys in order. Each
// value becomes a string: strings as they are, numbers as their literal
// text, booleans as true/false; null, objects and arrays are marked bad.
func parseObject(b []byte) (keys, vals, bads []string, err error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, nil, errors.New("not a JSON object (each line of a .jsonl file must be one {...} object)")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("not JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, nil, errors.New("not JSON: object key is not a string")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, nil, fmt.Errorf("not JSON: value of %q: %w", key, err)
		}
		val, bad := jsonScalar(raw)
		keys, vals, bads = append(keys, key), append(vals, val), append(bads, bad)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, nil, errors.New("more than one JSON value on the line")
	}
	return keys, vals, bads, nil
}

func jsonScalar(raw json.RawMessage) (val, bad string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", "an empty value"
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", "a malformed string"
		}
		return s, ""
	case 'n':
		return "", "null"
	case '{':
		return "", "an object"
	case '[':
		return "", "an array"
	}
	return string(raw), "" // number, true or false: keep the literal
}
