package uselite

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode"

	"github.com/bertserve/bertserve/encoder"
)

// minIDParity is the share of real lines whose ids must equal the npm
// package's (the issue asks for 99.9%); every difference must also be
// explained by explainIDDiff.
const minIDParity = 0.999

// explainIDDiff returns why the Go tokenizer may legitimately differ from
// the package on text, or "" when nothing explains it. The only known
// cause is Unicode versions: Node 20 normalizes with ICU's Unicode 17
// tables, golang.org/x/text with Unicode 15 under Go 1.26, so a character
// assigned after Unicode 15 may NFKC-normalize differently.
func explainIDDiff(text string) string {
	for _, r := range text {
		if !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C) {
			return fmt.Sprintf("U+%04X is unassigned in Go's Unicode %s tables (Node uses Unicode 17)", r, unicode.Version)
		}
	}
	return ""
}

func loadTokenizer(t *testing.T) encoder.Tokenizer {
	t.Helper()
	tok, err := encoder.LoadUnigram(filepath.Join(convertedDir(t), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type idCheck struct {
	t                  *testing.T
	tok                encoder.Tokenizer
	n, same, explained int
}

func (c *idCheck) check(where, text string, want []int64) {
	c.n++
	got := c.tok.Encode(text, 0).IDs
	if slices.Equal(got, want) {
		c.same++
		return
	}
	if why := explainIDDiff(text); why != "" {
		c.explained++
		c.t.Logf("explained difference at %s (%s): %q\n got  %v\n want %v", where, why, text, got, want)
		return
	}
	c.t.Errorf("unexplained token id difference at %s: %q\n got  %v\n want %v", where, text, got, want)
}

func (c *idCheck) report(set string) {
	share := float64(c.same) / float64(c.n)
	c.t.Logf("%s: %d/%d lines identical (%.3f%%), %d explained differences", set, c.same, c.n, 100*share, c.explained)
	if share < minIDParity {
		c.t.Errorf("%s: only %.3f%% of lines have identical ids, want at least %.1f%%", set, 100*share, 100*minIDParity)
	}
}

// TestTokenIDsMatchPackage compares the converted tokenizer.json, loaded by
// encoder.LoadUnigram, with the ids @energetic-ai/embeddings@0.2.0 gave for
// ~8,000 real lines of ../shared/data (testdata/golden_ids.json.gz, made by
// scripts/uselite/golden.js).
func TestTokenIDsMatchPackage(t *testing.T) {
	data := sharedData(t)
	if data == "" {
		t.Skip("../shared/data is absent; the golden ids name rows of it")
	}
	var golden struct {
		Generator string
		Sources   []source
		Items     []struct {
			S   int
			R   int
			H   string
			IDs []int64
		}
	}
	readGzJSON(t, "golden_ids.json.gz", &golden)
	c := &idCheck{t: t, tok: loadTokenizer(t)}
	rows := make([][]string, len(golden.Sources))
	for i, s := range golden.Sources {
		rows[i] = readRows(t, data, s)
	}
	for _, it := range golden.Items {
		src := golden.Sources[it.S]
		if it.R >= len(rows[it.S]) {
			t.Fatalf("%s has %d rows, the golden file names row %d: the data changed; rerun scripts/uselite/golden.js", src.File, len(rows[it.S]), it.R)
		}
		text := rows[it.S][it.R]
		if sha12(text) != it.H {
			t.Fatalf("%s row %d is not the text the golden ids were made from: rerun scripts/uselite/golden.js", src.File, it.R)
		}
		c.check(fmt.Sprintf("%s row %d", src.File, it.R), text, it.IDs)
	}
	if c.n < 5000 {
		t.Fatalf("only %d golden lines", c.n)
	}
	c.report("golden_ids (" + golden.Generator + ")")
}

// TestTokenIDsMatchMR compares with ../shared/acceptance/use-lite/mr_ids.jsonl:
// the package's ids for all 10,662 MR (rt-polarity) sentences, made outside
// this project.
func TestTokenIDsMatchMR(t *testing.T) {
	data := sharedData(t)
	if data == "" {
		t.Skip("../shared is absent")
	}
	path := filepath.Join(data, "..", "acceptance", "use-lite", "mr_ids.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no MR reference ids: %v", err)
	}
	defer f.Close()
	c := &idCheck{t: t, tok: loadTokenizer(t)}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var r struct {
			Text string  `json:"text"`
			IDs  []int64 `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		c.check(fmt.Sprintf("mr_ids.jsonl:%d", line), r.Text, r.IDs)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if c.n != 10662 {
		t.Errorf("read %d MR lines, want 10662", c.n)
	}
	c.report("mr_ids.jsonl")
}
