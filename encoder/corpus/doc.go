// Package corpus reads text corpora: the labelled files a head is trained
// on and the unlabelled files the embed command turns into vectors.
//
// Four formats are understood, chosen from the file extension unless
// Options.Format says otherwise:
//
//   - .csv: RFC 4180 comma-separated values (quoted fields may span lines).
//   - .tsv: tab-separated values as GLUE and SentEval ship them: one record
//     per line, split on tabs, with no quoting, so a stray " inside a
//     review is kept as text rather than opening a quoted field.
//   - .jsonl / .ndjson: one JSON object per line; its keys are the columns.
//     String, number and boolean values are accepted (numbers keep their
//     literal text, so integer labels stay "0", "1", ...).
//   - .txt: one text per line, no columns, no labels.
//
// All formats accept a leading UTF-8 byte-order mark and CRLF line endings.
// Texts are returned exactly as written (not trimmed); labels are trimmed.
//
// Columns. CSV and TSV files may start with a header row. With
// HeaderAuto the first row is taken as a header when every field looks
// like a column name (short, not a number, few spaces) and either one of
// them is a well-known name ("text", "sentence", "label", ...) or the
// rows below look different (numbers, long text). Files without a header
// name their columns "1", "2", ... A column option may give a name or a
// 1-based position. When TextColumn is empty the text column is the first
// well-known text name in the header, else the first text-like column
// (mostly non-numeric values with spaces or at least 20 characters),
// judged on the first Options.SniffRows rows. When labels are wanted and
// LabelColumn is empty, the label column is the first well-known label
// name ("label", "class", "category", ...), or, in a file without a
// header, the last column that is not the text.
//
// Errors name the line and say what to do: a row with the wrong number of
// fields ("line 7: 3 fields, want 2 as in the header on line 1"), a
// missing column (listing the columns found), text that is not UTF-8, an
// empty file (ErrEmpty).
//
// Reading is streaming: Reader.Next returns one row at a time and only
// the first SniffRows rows are held to detect columns, so corpora larger
// than memory can be embedded. Each Row carries the byte offset just past
// it (and the line it ends on), and Reader.ResumeAt continues reading a
// file from such a row boundary with the columns detected at its start:
// an interrupted embedding resumes without re-reading what it did.
package corpus
