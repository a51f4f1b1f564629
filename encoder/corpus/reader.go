package corpus

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrEmpty is returned (wrapped) for a file with no rows.
var ErrEmpty = errors.New("no rows")

// Row is one text, with its label when Options.Labels is set.
type Row struct {
	// Line is the 1-based line the row starts on.
	Line int
	// EndLine is the line the row ends on (Line, unless a quoted CSV field
	// spans lines) and Offset the byte offset just past the row: the place
	// Reader.ResumeAt continues from.
	EndLine int
	Offset  int64
	// Text is the text, exactly as in the file.
	Text string
	// Label is the trimmed label ("" unless Options.Labels).
	Label string
}

// Reader streams rows from a corpus. Create it with Open or NewReader.
type Reader struct {
	name       string // file name for error messages; "" for a stream
	in         io.Reader
	src        source
	closer     io.Closer
	format     Format
	columns    []string
	header     bool
	headerLine int
	text       int
	label      int // -1 without labels
	buf        []record
	err        error // sticky
	at         func(line int) string
}

// Open opens a corpus file. Close the Reader when done.
func Open(path string, opts Options) (*Reader, error) {
	if opts.Format == FormatAuto {
		f, err := FormatOf(path)
		if err != nil {
			return nil, err
		}
		opts.Format = f
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening corpus: %w", err)
	}
	r, err := newReader(path, f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a corpus from a stream; opts.Format must be set.
func NewReader(in io.Reader, opts Options) (*Reader, error) {
	return newReader("", in, opts)
}

func newReader(name string, in io.Reader, opts Options) (*Reader, error) {
	r := &Reader{name: name, in: in, format: opts.Format, label: -1, at: opts.rowName}
	br := bufio.NewReaderSize(in, 64<<10)
	bom := stripBOM(br)
	switch opts.Format {
	case FormatCSV:
		r.src = newCSVSource(br, bom, 0)
	case FormatTSV:
		r.src = &tsvSource{lr: lineReader{br: br, off: bom}}
	case FormatJSONL:
		r.src = &jsonlSource{lr: lineReader{br: br, off: bom}, at: opts.rowName}
	case FormatText:
		if opts.Labels {
			return nil, r.wrap(errors.New("a .txt corpus holds one text per line and no labels; use .csv, .tsv or .jsonl with a label column"))
		}
		r.src = &textSource{lr: lineReader{br: br, off: bom}}
	default:
		return nil, r.wrap(fmt.Errorf("corpus format %v: name csv, tsv, jsonl or txt", opts.Format))
	}
	for len(r.buf) <= opts.sniffRows() {
		rec, err := r.src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, r.wrap(err)
		}
		r.buf = append(r.buf, rec)
	}
	if len(r.buf) == 0 {
		return nil, r.wrap(fmt.Errorf("%w: the input is empty", ErrEmpty))
	}
	if err := r.detect(opts); err != nil {
		return nil, r.wrap(err)
	}
	return r, nil
}

func (r *Reader) wrap(err error) error {
	if r.name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", r.name, err)
}

// Columns returns the column names: the header, the keys of the first
// JSON object, "1".."n" for a file without a header, or "text" for .txt.
func (r *Reader) Columns() []string { return append([]string(nil), r.columns...) }

// TextColumn returns the name of the column texts are read from.
func (r *Reader) TextColumn() string { return r.columns[r.text] }

// LabelColumn returns the name of the label column, or "" without labels.
func (r *Reader) LabelColumn() string {
	if r.label < 0 {
		return ""
	}
	return r.columns[r.label]
}

// HasHeader reports whether the first row was read as a header.
func (r *Reader) HasHeader() bool { return r.header }

// Next returns the next row, or io.EOF after the last one. After any
// other error the Reader stays failed.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	var rec record
	if len(r.buf) > 0 {
		rec, r.buf[0] = r.buf[0], record{}
		r.buf = r.buf[1:]
	} else {
		var err error
		if rec, err = r.src.next(); err != nil {
			if err != io.EOF {
				err = r.wrap(err)
			}
			r.err = err
			return Row{}, err
		}
	}
	row, err := r.row(rec)
	if err != nil {
		r.err = r.wrap(err)
		return Row{}, r.err
	}
	return row, nil
}

func (r *Reader) row(rec record) (Row, error) {
	if len(rec.fields) != len(r.columns) {
		if r.header {
			return Row{}, fmt.Errorf("%s: %d fields, want %d as in the header on line %d (a ragged row: quote fields that contain the delimiter, or fix the row)",
				r.at(rec.line), len(rec.fields), len(r.columns), r.headerLine)
		}
		return Row{}, fmt.Errorf("%s: %d fields, want %d as in the first row (a ragged row: quote fields that contain the delimiter, or fix the row)",
			r.at(rec.line), len(rec.fields), len(r.columns))
	}
	if err := r.usable(rec, r.text); err != nil {
		return Row{}, err
	}
	row := Row{Line: rec.line, EndLine: rec.endLine, Offset: rec.end, Text: rec.fields[r.text]}
	if !utf8.ValidString(row.Text) {
		return Row{}, fmt.Errorf("%s: text is not valid UTF-8 (if the file is Latin-1, convert it: iconv -f latin1 -t utf-8)", r.at(rec.line))
	}
	if r.label >= 0 {
		if err := r.usable(rec, r.label); err != nil {
			return Row{}, err
		}
		row.Label = strings.TrimSpace(rec.fields[r.label])
		if row.Label == "" {
			return Row{}, fmt.Errorf("%s: empty label in column %q", r.at(rec.line), r.columns[r.label])
		}
		if !utf8.ValidString(row.Label) {
			return Row{}, fmt.Errorf("%s: label is not valid UTF-8", r.at(rec.line))
		}
	}
	return row, nil
}

func (r *Reader) usable(rec record, i int) error {
	if rec.bad != nil && rec.bad[i] != "" {
		return fmt.Errorf("%s: field %q is %s, want a string or number", r.at(rec.line), r.columns[i], rec.bad[i])
	}
	return nil
}

// ResumeAt continues reading at a row boundary found earlier: offset and
// endLine are Row.Offset and Row.EndLine of a row read from the same file
// with the same options (the next row read is the one after it). The
// header and columns stay as detected from the start of the file. This is
// how an interrupted embedding resumes without re-reading what it did. The
// input must be seekable (a file from Open, or an io.ReadSeeker).
func (r *Reader) ResumeAt(offset int64, endLine int) error {
	s, ok := r.in.(io.Seeker)
	if !ok {
		return r.wrap(errors.New("the input is not seekable (a pipe?); read it from the start"))
	}
	if offset < 0 || endLine < 0 {
		return r.wrap(fmt.Errorf("seek to offset %d, line %d: both must be non-negative", offset, endLine))
	}
	if _, err := s.Seek(offset, io.SeekStart); err != nil {
		return r.wrap(fmt.Errorf("seeking to byte %d: %w", offset, err))
	}
	br := bufio.NewReaderSize(r.in, 64<<10)
	lr := lineReader{br: br, line: endLine, off: offset}
	switch src := r.src.(type) {
	case *csvSource:
		r.src = newCSVSource(br, offset, endLine)
	case *tsvSource:
		src.lr = lr
	case *jsonlSource:
		src.lr = lr
	case *textSource:
		src.lr = lr
	}
	r.buf, r.err = nil, nil
	return nil
}

// Close closes the file opened by Open; it is a no-op for NewReader.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.closer = nil
	return err
}

// Info describes how a corpus was read.
type Info struct {
	Format      Format   `json:"format"`
	Columns     []string `json:"columns"`
	HasHeader   bool     `json:"has_header"`
	TextColumn  string   `json:"text_column"`
	LabelColumn string   `json:"label_column,omitempty"`
}

// Info returns the detected format, columns and chosen columns.
func (r *Reader) Info() Info {
	return Info{Format: r.format, Columns: r.Columns(), HasHeader: r.header, TextColumn: r.TextColumn(), LabelColumn: r.LabelColumn()}
}

// ReadAll reads every row of a corpus file. A file with no rows is an
// error wrapping ErrEmpty.
func ReadAll(path string, opts Options) ([]Row, Info, error) {
	r, err := Open(path, opts)
	if err != nil {
		return nil, Info{}, err
	}
	defer r.Close()
	rows, err := r.All()
	return rows, r.Info(), err
}

// All reads the remaining rows.
func (r *Reader) All() ([]Row, error) {
	var rows []Row
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
}

// columnIndex resolves a column option: an exact name, then a
// case-insensitive name, then a 1-based position.
func columnIndex(columns []string, want string) (int, error) {
	for i, c := range columns {
		if c == want {
			return i, nil
		}
	}
	for i, c := range columns {
		if strings.EqualFold(strings.TrimSpace(c), strings.TrimSpace(want)) {
			return i, nil
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(want)); err == nil && n >= 1 && n <= len(columns) {
		return n - 1, nil
	}
	return -1, fmt.Errorf("column %q not found; columns found: %s (give a name or a 1-based position)", want, listColumns(columns))
}

func listColumns(columns []string) string {
	q := make([]string, len(columns))
	for i, c := range columns {
		q[i] = strconv.Quote(c)
	}
	return strings.Join(q, ", ")
}
