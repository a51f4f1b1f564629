package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tokenizeModel writes a tiny BERT vocab.txt model directory.
func tokenizeModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "cafe", "\"", "\\", "a", "##b"}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(vocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type tokLine struct {
	IDs     []int64  `json:"ids"`
	Tokens  []string `json:"tokens"`
	TypeIDs []int64  `json:"type_ids"`
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	model := tokenizeModel(t)
	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    []tokLine
		stderr  string
		errLike string
		usage   bool
	}{
		{
			name:  "lines",
			args:  []string{"--model", model},
			stdin: "Hello world!\n\nCAFÉ \"\\\r\n",
			want: []tokLine{
				{[]int64{2, 5, 6, 7, 3}, []string{"[CLS]", "hello", "world", "!", "[SEP]"}, []int64{0, 0, 0, 0, 0}},
				{[]int64{2, 3}, []string{"[CLS]", "[SEP]"}, []int64{0, 0}},
				{[]int64{2, 8, 9, 10, 3}, []string{"[CLS]", "cafe", "\"", "\\", "[SEP]"}, []int64{0, 0, 0, 0, 0}},
			},
		},
		{
			name:  "no final newline",
			args:  []string{"--model", filepath.Join(model, "vocab.txt")},
			stdin: "ab",
			want:  []tokLine{{[]int64{2, 11, 12, 3}, []string{"[CLS]", "a", "##b", "[SEP]"}, []int64{0, 0, 0, 0}}},
		},
		{
			name:  "pairs",
			args:  []string{"--model", model, "--pair"},
			stdin: "hello\tworld\n",
			want:  []tokLine{{[]int64{2, 5, 3, 6, 3}, []string{"[CLS]", "hello", "[SEP]", "world", "[SEP]"}, []int64{0, 0, 0, 1, 1}}},
		},
		{
			name:    "pair without tab",
			args:    []string{"--model", model, "--pair"},
			stdin:   "hello\tworld\nno tab here\n",
			errLike: "line 2 has no tab",
		},
		{
			name:   "truncated and invalid UTF-8 counted",
			args:   []string{"--model", model, "--max-length", "3"},
			stdin:  "hello world\nhel\xfflo\n",
			want:   []tokLine{{[]int64{2, 5, 3}, []string{"[CLS]", "hello", "[SEP]"}, []int64{0, 0, 0}}, {[]int64{2, 5, 3}, []string{"[CLS]", "hello", "[SEP]"}, []int64{0, 0, 0}}},
			stderr: "1 of 2 lines truncated to 3 tokens",
		},
		{name: "no model", args: nil, usage: true, errLike: "--model is required"},
		{name: "negative max length", args: []string{"--model", model, "--max-length", "-1"}, usage: true, errLike: "--max-length"},
		{name: "missing model", args: []string{"--model", filepath.Join(model, "nope")}, errLike: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runTokenize(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if tt.errLike != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errLike) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errLike)
				}
				if tt.usage != errors.As(err, new(usageError)) {
					t.Errorf("usage error = %v, want %v", !tt.usage, tt.usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []tokLine
			for _, l := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
				var tl tokLine
				if err := json.Unmarshal([]byte(l), &tl); err != nil {
					t.Fatalf("output line %q is not JSON: %v", l, err)
				}
				got = append(got, tl)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.stderr)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x1f\n\t\r", "é😀\u2028", "bad\xffutf8"} {
		var back string
		if err := json.Unmarshal(appendJSONString(nil, s), &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Errorf("round trip %q -> %q, want %q", s, back, want)
		}
	}
}
