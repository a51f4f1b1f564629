package stream_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bertserve/bertserve/encoder/corpus"
	"github.com/bertserve/bertserve/encoder/stream"
)

type outRow struct {
	ID        json.RawMessage `json:"id"`
	Index     *int            `json:"index"`
	Embedding json.RawMessage `json:"embedding"`
}

func parseRows(t *testing.T, out string) []outRow {
	t.Helper()
	var rows []outRow
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var r outRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

func vector(t *testing.T, raw json.RawMessage) []float32 {
	t.Helper()
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return v
	}
	var v []float32
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestStdinJSONLines(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	in := `{"id": 7, "text": "a gripping film"}` + "\n\n" +
		`{"text": "no id here", "extra": [1, 2]}` + "\r\n" +
		`{"id": "doc-3", "text": ""}` + "\n" +
		`not json at all` + "\n" +
		`{"id": {"k": 1}, "text": 42}` + "\n" +
		`{"id": 9, "body": "wrong key"}` + "\n" +
		`{"id":  [ 1 , 2 ], "text": "café"}` + "\n"
	want, _ := e.Embed(context.Background(), []string{"a gripping film", "no id here", "", "café"})
	for _, enc := range []stream.Encoding{stream.EncodingJSON, stream.EncodingBase64} {
		var out, log bytes.Buffer
		sum, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: "-", Stdin: strings.NewReader(in), Output: "-", Stdout: &out,
			OnError: stream.OnErrorSkip, Log: &log, Encoding: enc})
		if err != nil {
			t.Fatal(err)
		}
		rows := parseRows(t, out.String())
		if len(rows) != 4 || sum.Skipped != 3 || sum.InputFormat != corpus.FormatJSONL {
			t.Fatalf("%d rows, %d skipped, format %v:\n%s", len(rows), sum.Skipped, sum.InputFormat, out.String())
		}
		ids := []string{"7", "", `"doc-3"`, "[1,2]"}
		for i, r := range rows {
			if string(r.ID) != ids[i] {
				t.Errorf("row %d: id %s, want %s", i, r.ID, ids[i])
			}
			if !sameBits(vector(t, r.Embedding), want.Vectors[i]) {
				t.Errorf("row %d (%v): embedding differs from Embed's", i, enc)
			}
		}
		if rows[1].Index == nil || *rows[1].Index != 1 {
			t.Errorf("a record without an id should carry its index 1, got %+v", rows[1])
		}
		for _, w := range []string{"line 5: not a JSON object", `line 6: "text" is a number, want a string`, `line 7: no "text" key (keys: "body", "id")`} {
			if !strings.Contains(log.String(), w) {
				t.Errorf("stderr does not say %q:\n%s", w, log.String())
			}
		}
	}
}

func TestStdinFailStopsAfterTheRowsBefore(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	in := "{\"id\":1,\"text\":\"one\"}\n{\"id\":2,\"text\":\"two\"}\n{\"id\":3,\n{\"id\":4,\"text\":\"four\"}\n"
	var out bytes.Buffer
	_, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: "-", Stdin: strings.NewReader(in), Output: "-", Stdout: &out})
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("want an error naming line 3, got %v", err)
	}
	if rows := parseRows(t, out.String()); len(rows) != 2 || string(rows[1].ID) != "2" {
		t.Fatalf("want the 2 rows before the bad line, got %s", out.String())
	}
}

func TestStdinPlainLines(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "cls")
	lines := []string{"", "first text", "", "{ not json, but plain text mode was forced }", "last\r"}
	in := strings.Join(lines, "\n") + "\n"
	var out bytes.Buffer
	dir := t.TempDir()
	for _, tc := range []struct {
		format corpus.Format
		output string
	}{{corpus.FormatAuto, "-"}, {corpus.FormatText, filepath.Join(dir, "o.npy")}} {
		out.Reset()
		sum, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: "-", Stdin: strings.NewReader(in), Output: tc.output, Stdout: &out, Format: tc.format})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Rows != len(lines) || sum.InputFormat != corpus.FormatText {
			t.Fatalf("%d rows (want %d), format %v", sum.Rows, len(lines), sum.InputFormat)
		}
	}
	texts := []string{"", "first text", "", "{ not json, but plain text mode was forced }", "last"}
	if got := readFile(t, filepath.Join(dir, "o.npy")); !bytes.Equal(got, wholeNPY(t, e, texts)) {
		t.Fatal("stdin plain lines into .npy differ from Embed")
	}
}

func TestStdinTooLongLine(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	in := "ok\n" + strings.Repeat("x", stream.MaxLineBytes+1) + "\nfine\n"
	var out, log bytes.Buffer
	sum, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: "-", Stdin: strings.NewReader(in), Output: "-", Stdout: &out, Log: &log, OnError: stream.OnErrorSkip})
	if err != nil || sum.Rows != 2 || sum.Skipped != 1 || !strings.Contains(log.String(), "line 2: longer than") {
		t.Fatalf("%v, %+v, %q", err, sum, log.String())
	}
	if rows := parseRows(t, out.String()); *rows[1].Index != 2 {
		t.Fatalf("the row after a skipped line keeps its own index 2, got %d", *rows[1].Index)
	}
}

// A stream's rows come out while its input is still open: nothing waits
// for the end of the input.
func TestStdinRowsArriveBeforeTheInputEnds(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: "-", Stdin: inR, Output: "-", Stdout: outW})
		outW.Close()
		done <- err
	}()
	lines := bufio.NewReader(outR)
	for i, text := range []string{"first", "second"} {
		if _, err := io.WriteString(inW, `{"id":`+string(rune('0'+i))+`,"text":"`+text+`"}`+"\n"); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			l, _ := lines.ReadString('\n')
			got <- l
		}()
		select {
		case l := <-got:
			if !strings.HasPrefix(l, `{"id":`+string(rune('0'+i))) {
				t.Fatalf("row %d: %q", i, l)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("row %d did not come out while the input stayed open", i)
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
