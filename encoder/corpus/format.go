package corpus

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
)

// Format is a corpus file format.
type Format int

// The formats. FormatAuto picks one from the file extension.
const (
	FormatAuto Format = iota
	FormatCSV
	FormatTSV
	FormatJSONL
	FormatText
)

var formatNames = [...]string{"auto", "csv", "tsv", "jsonl", "txt"}

// String returns the lower-case name used by ParseFormat.
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// ParseFormat parses a format name: auto, csv, tsv, jsonl (or ndjson) or
// txt (or text).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, nil
	case "csv":
		return FormatCSV, nil
	case "tsv", "tab":
		return FormatTSV, nil
	case "jsonl", "ndjson", "json-lines":
		return FormatJSONL, nil
	case "txt", "text":
		return FormatText, nil
	}
	return FormatAuto, fmt.Errorf("unknown corpus format %q (want csv, tsv, jsonl or txt)", s)
}

// FormatOf returns the format that a file name's extension implies.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".tsv", ".tab":
		return FormatTSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	case ".txt", ".text":
		return FormatText, nil
	}
	return FormatAuto, fmt.Errorf("cannot tell the format of %q from its extension (want .csv, .tsv, .jsonl or .txt); name the format explicitly", path)
}

// Header says whether a CSV or TSV file starts with a header row.
type Header int

// Header choices. HeaderAuto decides from the first rows (see the package
// documentation).
const (
	HeaderAuto Header = iota
	HeaderPresent
	HeaderAbsent
)

// Sniff guesses the format of labelled data from its first bytes, for
// uploads that do not say: JSON Lines when the first non-blank character
// opens an object, TSV when the first line holds a tab, else CSV.
func Sniff(data []byte) Format {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return FormatJSONL
	}
	first, _, _ := bytes.Cut(trimmed, []byte("\n"))
	if bytes.IndexByte(first, '\t') >= 0 {
		return FormatTSV
	}
	return FormatCSV
}
