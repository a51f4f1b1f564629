package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedData finds ../shared/data relative to the repository root.
func sharedData(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("real data not present at %s; skipping", data)
	}
	return data
}

// TestRealCorpora reads the shared real data sets and checks row counts
// and detected columns against their README.
func TestRealCorpora(t *testing.T) {
	data := sharedData(t)
	tests := []struct {
		path             string
		rows             int
		text, label      string
		firstLabel       string
		wantHeaderDetect bool
	}{
		{"sst2/train.tsv", 6920, "sentence", "label", "1", true},
		{"sst2-glue/train.tsv", 60614, "sentence", "label", "1", true},
		{"chnsenticorp/test.tsv", 1200, "text_a", "label", "", true},
		{"trec6/test.jsonl", 500, "text", "label", "", true},
		{"more/uci_sentiment_labelled/imdb_labelled.txt", 1000, "1", "2", "0", false},
		{"more/imdb_fastai_sample/texts.csv", 1000, "text", "label", "negative", true},
		{"more/chinese_sophonplus/waimai_10k.csv", 11987, "review", "label", "1", true},
		{"more/agnews_alps/test.tsv", 7600, "1", "2", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			p := filepath.Join(data, tc.path)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("%s absent", p)
			}
			opts := Options{Labels: true}
			if filepath.Ext(p) == ".txt" { // UCI files are TSV without a header
				opts.Format = FormatTSV
			}
			rows, info, err := ReadAll(p, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.rows || info.TextColumn != tc.text || info.LabelColumn != tc.label || info.HasHeader != tc.wantHeaderDetect {
				t.Fatalf("%d rows, info %+v; want %d rows, text %q, label %q", len(rows), info, tc.rows, tc.text, tc.label)
			}
			if tc.firstLabel != "" && rows[0].Label != tc.firstLabel {
				t.Errorf("first label %q, want %q", rows[0].Label, tc.firstLabel)
			}
		})
	}
}
