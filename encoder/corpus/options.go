package corpus

import "fmt"

// DefaultSniffRows is how many rows are held to detect the header and the
// columns when Options.SniffRows is zero.
const DefaultSniffRows = 64

// Options configure a Reader. The zero value reads the text column of a
// file whose format comes from its extension.
type Options struct {
	// Format of the input; FormatAuto uses the extension (Open only).
	Format Format
	// TextColumn names the text column, or gives its 1-based position.
	// Empty: detect it.
	TextColumn string
	// LabelColumn names the label column, or gives its 1-based position.
	// Empty: detect it when Labels is set.
	LabelColumn string
	// Labels makes the label column required; Row.Label is filled.
	Labels bool
	// Header says whether a CSV/TSV file has a header row.
	Header Header
	// SniffRows is how many rows are buffered to detect the header and
	// columns; 0 means DefaultSniffRows.
	SniffRows int
	// RowName names the row that starts on a 1-based line in error
	// messages; nil gives "line N". A caller that feeds records it holds
	// (a JSON array of examples, one per line) names them its own way.
	RowName func(line int) string
}

func (o Options) rowName(line int) string {
	if o.RowName != nil {
		return o.RowName(line)
	}
	return fmt.Sprintf("line %d", line)
}

func (o Options) sniffRows() int {
	if o.SniffRows <= 0 {
		return DefaultSniffRows
	}
	return o.SniffRows
}
