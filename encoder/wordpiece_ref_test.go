package encoder

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Helpers that locate the reference tokenizers and data for the parity
// tests. Real data lives outside the repository in ../shared; tests that
// need it skip when it is absent.

// repoRoot walks up from the package directory to go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

func sharedDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(repoRoot(t), "..", "shared")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("../shared (real data and bert-base-chinese files) is absent: %v", err)
	}
	return d
}

const (
	refUncased = "bert-base-uncased"
	refChinese = "bert-base-chinese"
)

var refToks sync.Map // name -> *WordPiece

// refTokenizer loads one of the reference tokenizers, skipping when its
// files are absent: bert-base-uncased comes from `make setup` (required when
// BERTSERVE_REQUIRE_ORT=1), bert-base-chinese from ../shared/vocab.
func refTokenizer(t testing.TB, name string) *WordPiece {
	t.Helper()
	if w, ok := refToks.Load(name); ok {
		return w.(*WordPiece)
	}
	var path string
	switch name {
	case refUncased:
		path = filepath.Join(CacheDir(), "vocab", "bert-base-uncased", "tokenizer.json")
		if _, err := os.Stat(path); err != nil {
			if os.Getenv("BERTSERVE_REQUIRE_ORT") == "1" {
				t.Fatalf("bert-base-uncased tokenizer.json missing with BERTSERVE_REQUIRE_ORT=1: %v", err)
			}
			t.Skipf("%s is absent: run make setup", path)
		}
	case refChinese:
		path = filepath.Join(sharedDir(t), "vocab", "bert-base-chinese", "tokenizer.json")
	default:
		t.Fatalf("unknown reference tokenizer %q", name)
	}
	w, err := LoadWordPiece(path)
	if err != nil {
		t.Fatal(err)
	}
	refToks.Store(name, w)
	return w
}

// refRecord is one line of encoder/testdata/tokref/*.jsonl.gz (written by
// scripts/tokref/gen.js).
type refRecord struct {
	Tokenizer string  `json:"tokenizer"`
	Text      *string `json:"text"`
	Src       string  `json:"src"`
	Line      int     `json:"line"`
	Enc       string  `json:"enc"`
	TextPair  *string `json:"text_pair"`
	SrcB      string  `json:"src_b"`
	LineB     int     `json:"line_b"`
	EncB      string  `json:"enc_b"`
	MaxLength int     `json:"max_length"`
	IDs       []int64 `json:"ids"`
	TypeIDs   []int64 `json:"type_ids"`
	Error     string  `json:"error"`
}

func (r *refRecord) isPair() bool { return r.TextPair != nil || r.SrcB != "" }

// key names the record in logs and in the allow-list.
func (r *refRecord) key() string {
	var b strings.Builder
	b.WriteString(r.Tokenizer + " ")
	if r.Src != "" {
		b.WriteString(r.Src + ":" + itoa(r.Line))
	} else {
		b.WriteString(quoteShort(*r.Text))
	}
	if r.SrcB != "" {
		b.WriteString(" | " + r.SrcB + ":" + itoa(r.LineB))
	} else if r.TextPair != nil {
		b.WriteString(" | " + quoteShort(*r.TextPair))
	}
	if r.MaxLength > 0 {
		b.WriteString(" max_length=" + itoa(r.MaxLength))
	}
	return b.String()
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func quoteShort(s string) string {
	b, _ := json.Marshal(s)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func readRefFile(t testing.TB, path string) []refRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("reference file: %v (regenerate with node scripts/tokref/gen.js)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []refRecord
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r refRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// dataLines reads ../shared/data files once, split on "\n" only as gen.js
// does.
type dataLines struct {
	dir   string
	files map[string][][]byte
}

func (d *dataLines) text(t testing.TB, src string, line int, enc string) string {
	t.Helper()
	lines, ok := d.files[src]
	if !ok {
		b, err := os.ReadFile(filepath.Join(d.dir, src))
		if err != nil {
			t.Fatalf("reading %s: %v", src, err)
		}
		lines = bytes.Split(b, []byte("\n"))
		if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		d.files[src] = lines
	}
	if line >= len(lines) {
		t.Fatalf("%s has %d lines, the reference wants line %d: the data changed, regenerate the references", src, len(lines), line)
	}
	raw := lines[line]
	switch enc {
	case "utf8":
		return string(raw) // invalid bytes are Encode's to replace
	case "latin1":
		rs := make([]rune, len(raw))
		for i, c := range raw {
			rs[i] = rune(c)
		}
		return string(rs)
	case "jsonl:text":
		var v struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s:%d: %v", src, line, err)
		}
		return v.Text
	}
	t.Fatalf("unknown decoding %q", enc)
	return ""
}

// inputs returns the record's text (and pair text).
func (d *dataLines) inputs(t testing.TB, r *refRecord) (a, b string) {
	t.Helper()
	if r.Src != "" {
		a = d.text(t, r.Src, r.Line, r.Enc)
	} else {
		a = *r.Text
	}
	if r.SrcB != "" {
		b = d.text(t, r.SrcB, r.LineB, r.EncB)
	} else if r.TextPair != nil {
		b = *r.TextPair
	}
	return a, b
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
