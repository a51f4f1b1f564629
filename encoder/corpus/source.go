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

// record is one raw row: its fields, the line it starts on, the line it
// ends on and the byte offset just past it (where the next record begins).
// bad[i], when bad is non-nil and bad[i] is non-empty, says why field i
// holds no usable string (a JSON Lines object without that key, or with a
// null or nested value there).
type record struct {
	line    int
	endLine int
	end     int64
	fields  []string
	bad     []string
}

// source yields raw records from one file format.
type source interface {
	next() (record, error) // io.EOF after the last record
}

// stripBOM drops a leading UTF-8 byte-order mark and returns its length.
func stripBOM(br *bufio.Reader) int64 {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
		return 3
	}
	return 0
}

// lineReader reads '\n'-terminated lines with no length limit, dropping
// the terminator and a preceding '\r'. line counts the lines read and off
// the bytes consumed, both from the start of the file.
type lineReader struct {
	br   *bufio.Reader
	line int
	off  int64
}

func (l *lineReader) readLine() (string, error) {
	s, err := l.br.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		return "", err
	}
	l.line++
	l.off += int64(len(s))
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// csvSource reads RFC 4180 CSV; quotes are parsed leniently so a bare "
// inside an unquoted field is kept as text. off0 and line0 are where the
// csv.Reader started in the file (after a byte-order mark, or a ResumeAt).
type csvSource struct {
	r     *csv.Reader
	off0  int64
	line0 int
}

func newCSVSource(br *bufio.Reader, off0 int64, line0 int) *csvSource {
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1 // the Reader checks counts and names the line
	r.LazyQuotes = true
	return &csvSource{r: r, off0: off0, line0: line0}
}

func (s *csvSource) next() (record, error) {
	fields, err := s.r.Read()
	if err != nil {
		if err == io.EOF {
			return record{}, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			pe.StartLine += s.line0
			pe.Line += s.line0
		}
		return record{}, fmt.Errorf("reading CSV: %w", err)
	}
	line, _ := s.r.FieldPos(0)
	// The record ends on the line its last field starts on, plus the line
	// breaks inside that (quoted) field.
	last, _ := s.r.FieldPos(len(fields) - 1)
	last += strings.Count(fields[len(fields)-1], "\n")
	return record{line: line + s.line0, endLine: last + s.line0, end: s.off0 + s.r.InputOffset(), fields: fields}, nil
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
		return record{line: s.lr.line, endLine: s.lr.line, end: s.lr.off, fields: strings.Split(text, "\t")}, nil
	}
}

// textSource yields every line, blank ones included, as a one-field record.
type textSource struct{ lr lineReader }

func (s *textSource) next() (record, error) {
	text, err := s.lr.readLine()
	if err != nil {
		return record{}, err
	}
	return record{line: s.lr.line, endLine: s.lr.line, end: s.lr.off, fields: []string{text}}, nil
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
		rec := record{line: s.lr.line, endLine: s.lr.line, end: s.lr.off, fields: make([]string, len(s.columns)), bad: make([]string, len(s.columns))}
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
