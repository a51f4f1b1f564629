package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// plainMirror serves one ONNX repo in the hub's URL layout but, like some
// mirrors, without X-Repo-Commit or ETag on its file answers.
func plainMirror(t *testing.T) *httptest.Server {
	t.Helper()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	files := map[string]string{
		"onnx/model.onnx": "not parsed by pull: the graph is used as exported",
		"vocab.txt":       "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n",
		"config.json":     `{"model_type": "bert", "hidden_size": 16, "max_position_embeddings": 32}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/models/acme/mirrored/revision/main" {
			var sibs []map[string]string
			for name := range files {
				sibs = append(sibs, map[string]string{"rfilename": name})
			}
			json.NewEncoder(w).Encode(map[string]any{"id": "acme/mirrored", "sha": commit, "siblings": sibs})
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/acme/mirrored/resolve/"+commit+"/")
		if b, found := files[name]; ok && found {
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader(b))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPullAllowMissingHubHeaders(t *testing.T) {
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT"} {
		t.Setenv(k, "")
	}
	t.Setenv("HF_HOME", t.TempDir())
	srv := plainMirror(t)
	dir := filepath.Join(t.TempDir(), "mirrored")
	var stderr bytes.Buffer
	if code := run([]string{"pull", "acme/mirrored", "--endpoint", srv.URL, "--dir", dir}, &stderr); code != 1 {
		t.Fatalf("pull from a mirror without hub headers: exit %d, want 1\n%s", code, stderr.String())
	}
	for _, s := range []string{"this does not look like a Hugging Face hub", "--allow-missing-hub-headers"} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("stderr does not say %q:\n%s", s, stderr.String())
		}
	}
	stderr.Reset()
	if code := run([]string{"pull", "acme/mirrored", "--endpoint", srv.URL, "--dir", dir, "--allow-missing-hub-headers"}, &stderr); code != 0 {
		t.Fatalf("pull --allow-missing-hub-headers: exit %d\n%s", code, stderr.String())
	}
	for _, f := range []string{"model.onnx", "vocab.txt", "bertserve.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
