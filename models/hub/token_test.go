package hub

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLookupToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	defaultFile := writeFile(t, filepath.Join(home, ".cache", "huggingface", "token"), "hf_default\n")
	hfHome := filepath.Join(dir, "hfhome")
	writeFile(t, filepath.Join(hfHome, "token"), "  hf_from_hf_home\r\n")
	xdg := filepath.Join(dir, "xdg")
	writeFile(t, filepath.Join(xdg, "huggingface", "token"), "hf_from_xdg")
	tokenPath := writeFile(t, filepath.Join(dir, "elsewhere", "tok"), "\thf_from_token_path \n")
	for _, tc := range []struct {
		name       string
		env        map[string]string
		want, from string
	}{
		{"HF_TOKEN first", map[string]string{"HF_TOKEN": "hf_env", "HUGGING_FACE_HUB_TOKEN": "hf_old", "HOME": home}, "hf_env", "$HF_TOKEN"},
		{"newline stripped", map[string]string{"HF_TOKEN": "hf_env\n"}, "hf_env", "$HF_TOKEN"},
		{"HUGGING_FACE_HUB_TOKEN next", map[string]string{"HUGGING_FACE_HUB_TOKEN": " hf_old ", "HOME": home}, "hf_old", "$HUGGING_FACE_HUB_TOKEN"},
		{"then $HF_TOKEN_PATH", map[string]string{"HF_TOKEN_PATH": tokenPath, "HF_HOME": hfHome, "HOME": home}, "hf_from_token_path", tokenPath},
		{"then $HF_HOME/token", map[string]string{"HF_HOME": hfHome, "HOME": home}, "hf_from_hf_home", filepath.Join(hfHome, "token")},
		{"$XDG_CACHE_HOME/huggingface/token", map[string]string{"XDG_CACHE_HOME": xdg, "HOME": home}, "hf_from_xdg", filepath.Join(xdg, "huggingface", "token")},
		{"default ~/.cache/huggingface/token", map[string]string{"HOME": home}, "hf_default", defaultFile},
		{"~ in HF_HOME", map[string]string{"HF_HOME": "~/.cache/huggingface", "HOME": home}, "hf_default", defaultFile},
		{"a blank HF_TOKEN falls through to the file", map[string]string{"HF_TOKEN": " \n", "HOME": home}, "hf_default", defaultFile},
		// As in huggingface_hub, $HF_TOKEN_PATH replaces $HF_HOME/token: a
		// missing file there means no token.
		{"missing $HF_TOKEN_PATH", map[string]string{"HF_TOKEN_PATH": filepath.Join(dir, "nope"), "HOME": home}, "", ""},
		{"nothing anywhere", map[string]string{"HOME": filepath.Join(dir, "empty")}, "", ""},
	} {
		got, err := lookupToken(envOf(tc.env))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got.value != tc.want || got.source != tc.from {
			t.Errorf("%s: got %q from %q, want %q from %q", tc.name, got.value, got.source, tc.want, tc.from)
		}
	}
}

func TestLookupTokenRejectsBrokenTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeFile(t, filepath.Join(dir, "token"), "hf_abc def\n")
	for _, env := range []map[string]string{
		{"HF_TOKEN": "hf_abc\x00"},
		{"HF_TOKEN_PATH": bad},
	} {
		_, err := lookupToken(envOf(env))
		if err == nil || !strings.Contains(err.Error(), "huggingface.co/settings/tokens") {
			t.Errorf("lookupToken(%v) = %v, want an error pointing at the tokens page", env, err)
		}
	}
	unreadable := writeFile(t, filepath.Join(dir, "locked", "token"), "hf_x")
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 0 { // root reads it anyway
		if _, err := lookupToken(envOf(map[string]string{"HF_TOKEN_PATH": unreadable})); err == nil || !strings.Contains(err.Error(), unreadable) {
			t.Errorf("unreadable token file: err = %v, want one naming %s", err, unreadable)
		}
	}
}

func TestPullUsesTheTokenSavedByHFAuthLogin(t *testing.T) {
	t.Parallel()
	// `hf auth login` writes $HF_HOME/token (with a trailing newline when
	// written by hand); a gated repo then pulls without HF_TOKEN.
	h := newFakeHub(t)
	h.add("acme/gated", onnxRepoFiles(t)).gated = true
	hfHome := t.TempDir()
	writeFile(t, filepath.Join(hfHome, "token"), fakeToken+"\n")
	opts := noToken(testOptions(h, filepath.Join(t.TempDir(), "m")))
	opts.getenv = envOf(map[string]string{"HF_HOME": hfHome})
	if _, err := Pull(context.Background(), "acme/gated", opts); err != nil {
		t.Fatal(err)
	}
}

func TestPullStripsTheTokenFromTheEnvironment(t *testing.T) {
	t.Parallel()
	// `export HF_TOKEN=$(cat token)` keeps no newline, but
	// HF_TOKEN="$(cat token)"$'\n' or a token pasted into a .env file does.
	h := newFakeHub(t)
	h.add("acme/gated", onnxRepoFiles(t)).gated = true
	opts := noToken(testOptions(h, filepath.Join(t.TempDir(), "m")))
	opts.getenv = envOf(map[string]string{"HF_TOKEN": fakeToken + "\r\n"})
	if _, err := Pull(context.Background(), "acme/gated", opts); err != nil {
		t.Fatal(err)
	}
	// A token given in Options is cleaned the same way.
	opts = testOptions(h, filepath.Join(t.TempDir(), "m2"))
	opts.Token = " " + fakeToken + "\n"
	if _, err := Pull(context.Background(), "acme/gated", opts); err != nil {
		t.Fatal(err)
	}
}

func TestPullNamesWhereTheRefusedTokenCameFrom(t *testing.T) {
	t.Parallel()
	h := newFakeHub(t)
	h.add("acme/gated", onnxRepoFiles(t)).gated = true
	hfHome := t.TempDir()
	file := writeFile(t, filepath.Join(hfHome, "token"), "hf_expired\n")
	opts := noToken(testOptions(h, filepath.Join(t.TempDir(), "m")))
	opts.getenv = envOf(map[string]string{"HF_HOME": hfHome})
	_, err := Pull(context.Background(), "acme/gated", opts)
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("err = %v, want it to name the token file %s", err, file)
	}
}
