package hub

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/internal/orttest"
)

// listTree returns every file under dir, slash-separated and sorted.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// entries lists the names directly in dir.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// testOptions pulls from h through its client, with a token the fake hub
// does not check, and with waits that move the fake clock instead of
// sleeping.
func testOptions(h *fakeHub, dir string) Options {
	o := Options{Endpoint: h.url, HTTPClient: h.client(), Dir: dir, Token: "-", StallTimeout: 5 * time.Second}
	o.sleep = h.sleep
	o.getenv = envOf(nil)
	return o
}

// noToken makes the options anonymous: no token given, none in the
// (empty) environment.
func noToken(o Options) Options {
	o.Token = ""
	return o
}

// envOf is an environment holding only env.
func envOf(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// isolateToken hides every place Pull looks for a token ($HF_TOKEN,
// $HUGGING_FACE_HUB_TOKEN, $HF_TOKEN_PATH, $HF_HOME/token and the default
// ~/.cache/huggingface/token) and returns the HF_HOME it points at.
func isolateToken(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "XDG_CACHE_HOME"} {
		t.Setenv(k, "")
	}
	t.Setenv("HF_HOME", home)
	t.Setenv("HOME", home)
	return home
}

func TestPullONNXRepo(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files).license = "apache-2.0"
	parent := t.TempDir()
	dir := filepath.Join(parent, "tiny")
	var log bytes.Buffer
	opts := noToken(testOptions(h, dir))
	opts.Progress = &log
	got, err := Pull(context.Background(), "acme/tiny-onnx", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got != dir {
		t.Errorf("Pull returned %s, want %s", got, dir)
	}
	want := []string{"1_Pooling/config.json", "bertserve.json", "config.json", "model.onnx", "modules.json", "tokenizer_config.json", "vocab.txt"}
	if tree := listTree(t, dir); !slices.Equal(tree, want) {
		t.Errorf("model directory holds %v, want %v", tree, want)
	}
	for repoPath, local := range map[string]string{"onnx/model.onnx": "model.onnx", "vocab.txt": "vocab.txt", "1_Pooling/config.json": "1_Pooling/config.json"} {
		b, err := os.ReadFile(filepath.Join(dir, local))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, files[repoPath]) {
			t.Errorf("%s differs from the repo's %s", local, repoPath)
		}
	}
	m, err := models.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(dir); err != nil {
		t.Error(err)
	}
	want2 := models.Manifest{
		Format: models.ManifestFormat, Name: "acme/tiny-onnx", License: "apache-2.0",
		Source:       "hf:acme/tiny-onnx@" + h.repos["acme/tiny-onnx"].commit + " via " + h.url,
		Architecture: "bert", SHA256: m.SHA256, Dim: tinyHidden, Pooling: "mean", MaxLength: 32, Tokenizer: "vocab.txt",
	}
	if !reflect.DeepEqual(*m, want2) {
		t.Errorf("manifest\n%+v\nwant\n%+v", *m, want2)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("model directory mode %v (%v), want rwxr-xr-x like any directory", st.Mode(), err)
	}
	if names := entries(t, parent); !slices.Equal(names, []string{"tiny"}) {
		t.Errorf("parent holds %v after the pull, want only the model directory", names)
	}
	for _, f := range []string{"model.onnx", "vocab.txt", "model ready"} {
		if !strings.Contains(log.String(), f) {
			t.Errorf("progress output lacks %q:\n%s", f, log.String())
		}
	}
	if strings.Contains(log.String(), "\r") {
		t.Errorf("progress to a non-terminal redraws lines:\n%q", log.String())
	}
	t.Run("runs in ONNX Runtime", func(t *testing.T) {
		orttest.Require(t)
		ids := []int64{2, 5, 6, 7, 8, 3, 0}
		mask := []int64{1, 1, 1, 1, 1, 1, 0}
		out := orttest.Run(t, must(os.ReadFile(filepath.Join(dir, "model.onnx"))),
			[]orttest.Input{
				{Name: "input_ids", Shape: []int64{1, 7}, Int64: ids},
				{Name: "attention_mask", Shape: []int64{1, 7}, Int64: mask},
			}, []string{"last_hidden_state"}, nil)["last_hidden_state"]
		if !slices.Equal(out.Shape, []int64{1, 7, tinyHidden}) {
			t.Fatalf("output shape %v", out.Shape)
		}
		emb := tinyEmbeddings()
		for i, id := range ids {
			for j := range tinyHidden {
				want := emb[int(id)*tinyHidden+j] * float32(mask[i])
				if got := out.Data[i*tinyHidden+j]; got != want {
					t.Fatalf("token %d dim %d: %v, want %v", i, j, got, want)
				}
			}
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestPullResumesDroppedConnection(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files)
	const cut = 700
	h.drops["onnx/model.onnx"] = []int64{cut}
	h.drops["vocab.txt"] = []int64{10} // a small file served by the hub itself
	dir := filepath.Join(t.TempDir(), "m")
	var log bytes.Buffer
	opts := testOptions(h, dir)
	opts.Progress = &log
	if _, err := Pull(context.Background(), "acme/tiny-onnx", opts); err != nil {
		t.Fatal(err)
	}
	if r := h.rangesOf("onnx/model.onnx"); !slices.Equal(r, []string{"", "bytes=700-"}) {
		t.Errorf("CDN saw Range headers %q, want a full GET then a resume from byte %d", r, cut)
	}
	if r := h.rangesOf("vocab.txt"); !slices.Equal(r, []string{"", "bytes=10-"}) {
		t.Errorf("hub saw Range headers %q for vocab.txt, want a resume from byte 10", r)
	}
	if b := must(os.ReadFile(filepath.Join(dir, "model.onnx"))); !bytes.Equal(b, files["onnx/model.onnx"]) {
		t.Error("resumed model.onnx differs from the repo's")
	}
	if !strings.Contains(log.String(), "resuming") {
		t.Errorf("progress does not mention the resume:\n%s", log.String())
	}
}

func TestPullRetriesWhileProgressing(t *testing.T) {
	t.Parallel()
	// Attempts that bring new bytes do not use up the retry budget.
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files)
	h.drops["onnx/model.onnx"] = []int64{300, 300, 300, 300}
	opts := testOptions(h, filepath.Join(t.TempDir(), "m"))
	opts.MaxRetries = 1
	if _, err := Pull(context.Background(), "acme/tiny-onnx", opts); err != nil {
		t.Fatal(err)
	}
	want := []string{"", "bytes=300-", "bytes=600-", "bytes=900-", "bytes=1200-"}
	if r := h.rangesOf("onnx/model.onnx"); !slices.Equal(r, want) {
		t.Errorf("Range headers %q, want %q", r, want)
	}
}

func TestPullRestartsWhenRangeIgnored(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files)
	h.drops["onnx/model.onnx"] = []int64{700}
	h.noRange["onnx/model.onnx"] = true
	dir := filepath.Join(t.TempDir(), "m")
	if _, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, dir)); err != nil {
		t.Fatal(err)
	}
	if r := h.rangesOf("onnx/model.onnx"); !slices.Equal(r, []string{"", "bytes=700-", ""}) {
		t.Errorf("Range headers %q, want a resume attempt, then a fresh download once the server ignored Range", r)
	}
	if !bytes.Equal(must(os.ReadFile(filepath.Join(dir, "model.onnx"))), files["onnx/model.onnx"]) {
		t.Error("model.onnx differs after a restart")
	}
}

func TestPullResumesAcrossRuns(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files)
	// The first GET is cut after 500 bytes, the resume attempt before any
	// byte arrives: with one retry allowed the first run gives up.
	h.drops["onnx/model.onnx"] = []int64{500, 0}
	parent := t.TempDir()
	dir := filepath.Join(parent, "m")
	opts := testOptions(h, dir)
	opts.MaxRetries = 1
	_, err := Pull(context.Background(), "acme/tiny-onnx", opts)
	if err == nil || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("Pull with a connection that keeps dropping: err = %v, want a resumable failure", err)
	}
	if fileExists(dir) {
		t.Fatalf("a failed pull created %s", dir)
	}
	names := entries(t, parent)
	if len(names) != 1 || !strings.HasPrefix(names[0], ".m.download-") {
		t.Fatalf("after a network failure the parent holds %v, want only the staging folder", names)
	}
	if _, err := Pull(context.Background(), "acme/tiny-onnx", opts); err != nil {
		t.Fatal(err)
	}
	r := h.rangesOf("onnx/model.onnx")
	if !slices.Equal(r, []string{"", "bytes=500-", "bytes=500-"}) {
		t.Errorf("CDN saw Range headers %q, want the second run to continue from byte 500", r)
	}
	if !bytes.Equal(must(os.ReadFile(filepath.Join(dir, "model.onnx"))), files["onnx/model.onnx"]) {
		t.Error("model.onnx assembled over two runs differs from the repo's")
	}
	if r := h.rangesOf("vocab.txt"); len(r) != 1 {
		t.Errorf("vocab.txt, complete after the first run, was fetched %d times", len(r))
	}
	if names := entries(t, parent); !slices.Equal(names, []string{"m"}) {
		t.Errorf("parent holds %v after the second run, want only the model directory", names)
	}
}

func TestPullGatedRepo(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	h.add("acme/gated", onnxRepoFiles(t)).gated = true
	parent := t.TempDir()
	dir := filepath.Join(parent, "g")
	_, err := Pull(context.Background(), "acme/gated", noToken(testOptions(h, dir)))
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "repo is gated or private: set HF_TOKEN") {
		t.Fatalf("anonymous pull of a gated repo: err = %v, want ErrUnauthorized saying to set HF_TOKEN", err)
	}
	if names := entries(t, parent); len(names) != 0 {
		t.Errorf("a refused pull left %v", names)
	}
	// With the token from the environment it works, and the token never
	// reaches the CDN.
	opts := noToken(testOptions(h, dir))
	opts.getenv = envOf(map[string]string{"HF_TOKEN": fakeToken})
	if _, err := Pull(context.Background(), "acme/gated", opts); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.cdnAuth) == 0 {
		t.Fatal("the CDN served nothing")
	}
	for _, a := range h.cdnAuth {
		if a != "" {
			t.Errorf("the CDN received Authorization %q; the token must only go to the hub", a)
		}
	}
}

func TestPullNotFound(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	h.add("acme/tiny-onnx", onnxRepoFiles(t))
	for _, tc := range []struct{ repo, rev string }{
		{"acme/no-such-model", ""},
		{"acme/tiny-onnx", "v9.9"},
		{"acme/tiny-onnx", "refs/pr/7"},
	} {
		parent := t.TempDir()
		opts := testOptions(h, filepath.Join(parent, "x"))
		opts.Revision = tc.rev
		_, err := Pull(context.Background(), tc.repo, opts)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no such repo or revision") {
			t.Errorf("Pull(%s@%q): err = %v, want ErrNotFound", tc.repo, tc.rev, err)
		}
		if names := entries(t, parent); len(names) != 0 {
			t.Errorf("Pull(%s@%q) left %v", tc.repo, tc.rev, names)
		}
	}
}

func TestPullChecksumMismatch(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"onnx/model.onnx", "config.json"} { // sha256 (LFS) and git sha1
		t.Run(name, func(t *testing.T) {
			h := newFakeHub(t)
			h.add("acme/tiny-onnx", onnxRepoFiles(t))
			h.corrupt[name] = true
			parent := t.TempDir()
			_, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, filepath.Join(parent, "m")))
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("err = %v, want ErrChecksum", err)
			}
			if names := entries(t, parent); len(names) != 0 {
				t.Errorf("a pull with a corrupt file left %v", names)
			}
		})
	}
}

func TestPullUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	t.Setenv("HF_ENDPOINT", endpoint)
	isolateToken(t)
	parent := t.TempDir()
	_, err = Pull(context.Background(), "acme/tiny-onnx", Options{Dir: filepath.Join(parent, "m")})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	for _, s := range []string{"the Hugging Face hub is unreachable at " + endpoint, "set HF_ENDPOINT to a mirror", "bertserve import --from DIR"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if names := entries(t, parent); len(names) != 0 {
		t.Errorf("an offline pull left %v", names)
	}
}

func TestPullRefusesPickleOnly(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	h.add("acme/old-bert", map[string][]byte{
		"config.json":       tinyConfig(t),
		"vocab.txt":         vocabTxt(),
		"pytorch_model.bin": bytes.Repeat([]byte{0x80}, 2000),
	})
	parent := t.TempDir()
	_, err := Pull(context.Background(), "acme/old-bert", testOptions(h, filepath.Join(parent, "m")))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "pytorch_model.bin") || !strings.Contains(err.Error(), "safetensors") {
		t.Fatalf("err = %v, want ErrUnsupported naming pytorch_model.bin and asking for safetensors", err)
	}
	if h.rangesOf("pytorch_model.bin") != nil {
		t.Error("Pull downloaded pytorch_model.bin")
	}
	if names := entries(t, parent); len(names) != 0 {
		t.Errorf("a refused pull left %v", names)
	}
}

func TestPullReplacesPreviousModelOnlyOnSuccess(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	files := onnxRepoFiles(t)
	h.add("acme/tiny-onnx", files)
	parent := t.TempDir()
	dir := filepath.Join(parent, "m")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := []byte("previous model")
	for _, f := range []string{"model.onnx", "stale.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A failing pull leaves the previous model exactly as it was.
	h.corrupt["vocab.txt"] = true
	if _, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, dir)); !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	if tree := listTree(t, dir); !slices.Equal(tree, []string{"model.onnx", "stale.txt"}) {
		t.Fatalf("after a failed pull the previous model holds %v", tree)
	}
	if names := entries(t, parent); !slices.Equal(names, []string{"m"}) {
		t.Errorf("a failed pull left %v next to the model", names)
	}
	// A successful one replaces it whole.
	delete(h.corrupt, "vocab.txt")
	if _, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, dir)); err != nil {
		t.Fatal(err)
	}
	if fileExists(filepath.Join(dir, "stale.txt")) {
		t.Error("files of the previous model survived the replacement")
	}
	if !bytes.Equal(must(os.ReadFile(filepath.Join(dir, "model.onnx"))), files["onnx/model.onnx"]) {
		t.Error("model.onnx was not replaced")
	}
	if names := entries(t, parent); !slices.Equal(names, []string{"m"}) {
		t.Errorf("parent holds %v after the replacement", names)
	}
}

func TestPullRefusesToReplaceOtherDirectories(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	h.add("acme/tiny-onnx", onnxRepoFiles(t))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "thesis.tex"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, dir))
	if err == nil || !strings.Contains(err.Error(), "not a model directory") {
		t.Fatalf("err = %v, want a refusal to replace a non-model directory", err)
	}
	if tree := listTree(t, dir); !slices.Equal(tree, []string{"thesis.tex"}) {
		t.Errorf("directory now holds %v", tree)
	}
}

func TestPullDefaultDirInCache(t *testing.T) {
	h := newFakeHub(t)
	h.add("acme/tiny-onnx", onnxRepoFiles(t))
	cache := t.TempDir()
	t.Setenv("BERTSERVE_CACHE", cache)
	t.Setenv("HF_ENDPOINT", h.hub.URL)
	dir, err := Pull(context.Background(), "acme/tiny-onnx", Options{Token: "-"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "models", "acme--tiny-onnx"); dir != want {
		t.Errorf("default directory %s, want %s", dir, want)
	}
}

func TestPullPinsTheResolvedCommit(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	repo := h.add("acme/tiny-onnx", onnxRepoFiles(t))
	var seen []string
	h.hub.Config.Handler = recordPaths(h.hub.Config.Handler, &seen)
	if _, err := Pull(context.Background(), "acme/tiny-onnx", testOptions(h, filepath.Join(t.TempDir(), "m"))); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range seen {
		if strings.Contains(p, "/resolve/") {
			n++
			if !strings.Contains(p, "/resolve/"+repo.commit+"/") {
				t.Errorf("file fetched at %s, want every file at the listed commit %s", p, repo.commit)
			}
		}
	}
	if n == 0 {
		t.Error("no resolve requests seen")
	}
}

func TestPullCancelled(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	h.add("acme/tiny-onnx", onnxRepoFiles(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parent := t.TempDir()
	if _, err := Pull(ctx, "acme/tiny-onnx", testOptions(h, filepath.Join(parent, "m"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if fileExists(filepath.Join(parent, "m")) {
		t.Error("a cancelled pull created the model directory")
	}
}
