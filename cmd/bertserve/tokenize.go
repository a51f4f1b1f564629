package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bertserve/bertserve/encoder"
)

// cmdTokenize prints the token ids of every stdin line as JSON Lines:
//
//	bertserve tokenize --model DIR [--max-length N] [--pair] < lines.txt
//	{"ids":[101,7592,102],"tokens":["[CLS]","hello","[SEP]"],"type_ids":[0,0,0]}
func cmdTokenize(args []string) error {
	return runTokenize(args, os.Stdin, os.Stdout, os.Stderr)
}

func runTokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model directory, or its tokenizer.json / vocab.txt")
	maxLen := fs.Int("max-length", 0, "truncate to N tokens including special tokens (0: no limit)")
	pair := fs.Bool("pair", false, "each line is a sentence pair: first<TAB>second")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bertserve tokenize --model DIR [--max-length N] [--pair] < lines")
		fmt.Fprintln(fs.Output(), `prints {"ids":[...],"tokens":[...],"type_ids":[...]} for each input line`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return usagef("--model is required (a model directory, tokenizer.json or vocab.txt)")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: input comes from stdin", fs.Args())
	}
	if *maxLen < 0 {
		return usagef("--max-length %d: want 0 (no limit) or a positive number", *maxLen)
	}
	tok, err := encoder.LoadTokenizer(*model)
	if err != nil {
		return err
	}
	in := bufio.NewReaderSize(stdin, 1<<16)
	out := bufio.NewWriterSize(stdout, 1<<16)
	var buf []byte
	lines, truncated, invalid := 0, 0, 0
	for {
		line, err := in.ReadString('\n')
		if line == "" && err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("reading stdin: %w", err)
		}
		lines++
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		var enc encoder.Encoding
		if *pair {
			a, b, ok := strings.Cut(line, "\t")
			if !ok {
				return fmt.Errorf("line %d has no tab: --pair needs first<TAB>second on every line", lines)
			}
			if enc, err = tok.EncodePair(a, b, *maxLen); err != nil {
				return fmt.Errorf("line %d: %w", lines, err)
			}
		} else {
			enc = tok.Encode(line, *maxLen)
		}
		if enc.Truncated {
			truncated++
		}
		if enc.InvalidUTF8 {
			invalid++
		}
		buf = appendEncodingJSON(buf[:0], enc)
		if _, err := out.Write(buf); err != nil {
			return fmt.Errorf("writing stdout: %w", err)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing stdout: %w", err)
	}
	if truncated > 0 {
		fmt.Fprintf(stderr, "bertserve tokenize: %d of %d lines truncated to %d tokens\n", truncated, lines, *maxLen)
	}
	if invalid > 0 {
		fmt.Fprintf(stderr, "bertserve tokenize: %d of %d lines held invalid UTF-8, replaced by U+FFFD\n", invalid, lines)
	}
	return nil
}

// appendEncodingJSON appends {"ids":[...],"tokens":[...],"type_ids":[...]}
// and a newline.
func appendEncodingJSON(b []byte, enc encoder.Encoding) []byte {
	b = append(b, `{"ids":[`...)
	for i, id := range enc.IDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, `],"tokens":[`...)
	for i, t := range enc.Tokens {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t)
	}
	b = append(b, `],"type_ids":[`...)
	for i, id := range enc.TypeIDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, "]}\n"...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r) // RuneError for invalid bytes
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
