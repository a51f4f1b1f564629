package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bertserve/bertserve/encoder/corpus"
)

const (
	// MaxLineBytes bounds one line of a stream: a longer line is an error
	// (skipped under --on-error skip), so memory stays bounded whatever
	// arrives. Texts are truncated to the model's maximum length anyway.
	MaxLineBytes = 1 << 20
	// chunkTextBytes bounds the text of one stream chunk.
	chunkTextBytes = 16 << 20
	// IdleFlush is how long a stream chunk waits for another line before
	// it is embedded and written as it is: a producer that pauses sees its
	// rows without waiting for ChunkRows more.
	IdleFlush = 100 * time.Millisecond
)

// lineRec is one record of a stream, or the error that ends it.
type lineRec struct {
	index int
	id    json.RawMessage
	text  string
	err   error
}

// lineSource reads a stream of JSON Lines ({"id": ..., "text": ...}) or
// plain text lines. A goroutine reads and parses ahead into a bounded
// channel; next gathers a chunk from it.
type lineSource struct {
	ctx       context.Context
	recs      chan lineRec
	chunkRows int
	idle      time.Duration
	skipped   atomic.Int64
}

type lineOptions struct {
	format        corpus.Format // FormatAuto, FormatJSONL or FormatText
	textKey       string
	idKey         string
	skip          bool
	log           io.Writer
	chunkRows     int
	idle          time.Duration
	onFormatKnown func(corpus.Format)
}

func newLineSource(ctx context.Context, in io.Reader, o lineOptions) *lineSource {
	s := &lineSource{ctx: ctx, recs: make(chan lineRec, o.chunkRows), chunkRows: o.chunkRows, idle: o.idle}
	go s.readLoop(in, o)
	return s
}

// readLine returns the next line without its terminator; a line longer
// than MaxLineBytes is read to its end and reported as too long, without
// being kept.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(frag) > MaxLineBytes+2 {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && (len(buf) > 0 || tooLong) {
			err = nil
		}
		if err != nil {
			return nil, false, err
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		if len(buf) > MaxLineBytes {
			tooLong, buf = true, nil
		}
		return buf, tooLong, nil
	}
}

func (s *lineSource) send(r lineRec) bool {
	select {
	case s.recs <- r:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *lineSource) readLoop(in io.Reader, o lineOptions) {
	defer close(s.recs)
	br := bufio.NewReaderSize(in, 64<<10)
	format := o.format
	lineNo, index, blanks := 0, 0, 0
	for {
		b, tooLong, err := readLine(br)
		if err == io.EOF {
			if format == corpus.FormatAuto && blanks > 0 && o.onFormatKnown != nil {
				o.onFormatKnown(corpus.FormatText)
			}
			for range blanks { // only blank lines: empty texts
				if !s.send(lineRec{index: index}) {
					return
				}
				index++
			}
			return
		}
		if err != nil {
			s.send(lineRec{err: fmt.Errorf("reading the input: %w", err)})
			return
		}
		lineNo++
		if lineNo == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		blank := len(bytes.TrimSpace(b)) == 0 && !tooLong
		if format == corpus.FormatAuto {
			if blank {
				blanks++
				continue
			}
			format = corpus.FormatText
			if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
				format = corpus.FormatJSONL
			}
			if o.onFormatKnown != nil {
				o.onFormatKnown(format)
			}
			if format == corpus.FormatText {
				for range blanks {
					if !s.send(lineRec{index: index}) {
						return
					}
					index++
				}
			}
			blanks = 0
		}
		if format == corpus.FormatJSONL && blank {
			continue
		}
		rec := lineRec{index: index}
		index++
		switch {
		case tooLong:
			err = fmt.Errorf("longer than %d bytes", MaxLineBytes)
		case format == corpus.FormatJSONL:
			rec.text, rec.id, err = parseRecord(b, o.textKey, o.idKey)
		default:
			rec.text = string(b)
		}
		if err != nil {
			err = fmt.Errorf("line %d: %w", lineNo, err)
			if o.skip {
				s.skipped.Add(1)
				fmt.Fprintf(o.log, "bertserve embed: %v (skipped)\n", err)
				continue
			}
			s.send(lineRec{err: err})
			return
		}
		if !s.send(rec) {
			return
		}
	}
}

// parseRecord reads the text and the id of one JSON Lines record.
func parseRecord(b []byte, textKey, idKey string) (string, json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
			return "", nil, fmt.Errorf("not a JSON object (%v); each line must be {\"%s\": ..., \"%s\": \"...\"}", err, idKey, textKey)
		}
		return "", nil, fmt.Errorf("not a JSON object: %w", err)
	}
	raw, ok := obj[textKey]
	if !ok {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, fmt.Sprintf("%q", k))
		}
		sort.Strings(keys)
		return "", nil, fmt.Errorf("no %q key (keys: %s); name the text key with --text-col", textKey, strings.Join(keys, ", "))
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return "", nil, fmt.Errorf("%q is %s, want a string", textKey, jsonKind(raw))
	}
	id := obj[idKey]
	if id != nil {
		var buf bytes.Buffer
		if err := json.Compact(&buf, id); err == nil {
			id = buf.Bytes()
		}
	}
	return text, id, nil
}

func jsonKind(raw json.RawMessage) string {
	switch t := bytes.TrimSpace(raw); {
	case len(t) == 0:
		return "empty"
	case t[0] == 'n':
		return "null"
	case t[0] == '{':
		return "an object"
	case t[0] == '[':
		return "an array"
	case t[0] == 't' || t[0] == 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

// next gathers the next chunk: it waits for a first record, then takes
// records until the chunk is full or none has come for the idle time.
func (s *lineSource) next() ([]string, *tag, error) {
	t := &tag{}
	var texts []string
	size := 0
	add := func(r lineRec) {
		texts = append(texts, r.text)
		t.indexes = append(t.indexes, r.index)
		t.ids = append(t.ids, r.id)
		size += len(r.text)
	}
	select {
	case r, ok := <-s.recs:
		if !ok {
			return nil, t, io.EOF
		}
		if r.err != nil {
			return nil, t, r.err
		}
		add(r)
	case <-s.ctx.Done():
		return nil, t, s.ctx.Err()
	}
	timer := time.NewTimer(s.idle)
	defer timer.Stop()
	for len(texts) < s.chunkRows && size < chunkTextBytes {
		select {
		case r, ok := <-s.recs:
			if !ok {
				return texts, t, io.EOF
			}
			if r.err != nil {
				return texts, t, r.err
			}
			add(r)
			timer.Reset(s.idle)
		case <-timer.C:
			return texts, t, nil
		case <-s.ctx.Done():
			return texts, t, s.ctx.Err()
		}
	}
	return texts, t, nil
}
