package head

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/bertserve/bertserve/encoder/corpus"
)

// Labelled is labelled text as read from a file or an upload: texts and
// their labels (renamed by ReadOptions.LabelNames), and how the columns
// were found.
type Labelled struct {
	// Source names where the rows came from (a path, "upload").
	Source string
	Texts  []string
	Labels []string
	Info   corpus.Info
}

// Len is the number of rows.
func (l *Labelled) Len() int { return len(l.Texts) }

// ReadOptions say how ReadLabelled reads labelled data. The CLI's flags
// and a training request's options fill them through TrainConfig's data
// fields (TrainConfig.ReadOptions).
type ReadOptions struct {
	// TextColumn and LabelColumn name the columns (or JSON keys), or
	// give their 1-based positions; empty: detected (see encoder/corpus).
	TextColumn, LabelColumn string
	// LabelNames renames raw labels ("0" to "negative").
	LabelNames map[string]string
	// MaxRows bounds the rows read (0: no bound); more is an error
	// wrapping ErrTooManyRows.
	MaxRows int
	// RowName names a row in error messages (default "line N").
	RowName func(line int) string
}

// ReadOptions returns the options of the configuration's data fields.
func (c TrainConfig) ReadOptions() ReadOptions {
	return ReadOptions{TextColumn: c.TextColumn, LabelColumn: c.LabelColumn, LabelNames: c.LabelNames}
}

// ErrTooManyRows is wrapped by ReadLabelled when ReadOptions.MaxRows is
// exceeded.
var ErrTooManyRows = errors.New("too many rows")

// ReadLabelled reads labelled CSV, TSV or JSON Lines from r, with the
// column detection of package encoder/corpus: the one reader of labelled
// data, used by `bertserve train` and `eval` for files and by the
// server for uploads, so a file is read the same way everywhere. format
// FormatAuto sniffs the data (corpus.Sniff).
func ReadLabelled(r io.Reader, source string, format corpus.Format, opts ReadOptions) (*Labelled, error) {
	if format == corpus.FormatAuto {
		head, rest, err := peek(r, 4096)
		if err != nil {
			return nil, err
		}
		format, r = corpus.Sniff(head), rest
	}
	cr, err := corpus.NewReader(r, corpus.Options{Format: format, Labels: true,
		TextColumn: opts.TextColumn, LabelColumn: opts.LabelColumn, RowName: opts.RowName})
	if err != nil {
		return nil, err
	}
	l := &Labelled{Source: source, Info: cr.Info()}
	for {
		row, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if opts.MaxRows > 0 && len(l.Texts) >= opts.MaxRows {
			return nil, fmt.Errorf("%w: more than %d rows; split the data or raise the limit", ErrTooManyRows, opts.MaxRows)
		}
		label := row.Label
		if n, ok := opts.LabelNames[label]; ok {
			label = n
		}
		l.Texts = append(l.Texts, row.Text)
		l.Labels = append(l.Labels, label)
	}
	return l, nil
}

// ReadLabelledFile reads a labelled .csv, .tsv or .jsonl file (the format
// from its extension) with ReadLabelled.
func ReadLabelledFile(path string, opts ReadOptions) (*Labelled, error) {
	format, err := corpus.FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening labelled data: %w", err)
	}
	defer f.Close()
	l, err := ReadLabelled(f, path, format, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

func peek(r io.Reader, n int) ([]byte, io.Reader, error) {
	buf := make([]byte, n)
	k, err := io.ReadFull(r, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, nil, err
	}
	buf = buf[:k]
	return buf, io.MultiReader(strings.NewReader(string(buf)), r), nil
}

// Classes returns the distinct labels in first-seen order and the count of
// each.
func (l *Labelled) Classes() ([]string, map[string]int) {
	counts := map[string]int{}
	var order []string
	for _, c := range l.Labels {
		if counts[c] == 0 {
			order = append(order, c)
		}
		counts[c]++
	}
	return order, counts
}

// Check requires at least two classes and at least minPerClass rows of
// each (one to train on, one to validate).
func (l *Labelled) Check(minPerClass int) error {
	if l.Len() == 0 {
		return errors.New("the data has no rows")
	}
	classes, counts := l.Classes()
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
		return fmt.Errorf("every class needs at least %d rows; too few for %s", minPerClass, strings.Join(few, ", "))
	}
	return nil
}
