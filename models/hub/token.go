package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// token is an access token and where it was found, so that a refusal can
// name the place to fix ("$HF_TOKEN", "/home/u/.cache/huggingface/token").
type token struct {
	value  string
	source string
}

// lookupToken finds the access token where huggingface_hub does (its
// utils/_auth.py), so that a token saved by `hf auth login` works here
// too:
//
//  1. $HF_TOKEN, or when that is empty $HUGGING_FACE_HUB_TOKEN;
//  2. else the file $HF_TOKEN_PATH when it is set, else $HF_HOME/token,
//     where $HF_HOME defaults to $XDG_CACHE_HOME/huggingface and that to
//     ~/.cache/huggingface.
//
// Line breaks and surrounding spaces are removed (a token pasted with a
// newline would otherwise make every request fail with "invalid header
// field value"); a blank value counts as none. A missing file is no
// token; a token file that cannot be read, or a token with spaces or
// control characters inside, is an error naming where it came from.
func lookupToken(getenv func(string) string) (token, error) {
	name := "HF_TOKEN"
	raw := getenv(name)
	if raw == "" {
		name = "HUGGING_FACE_HUB_TOKEN"
		raw = getenv(name)
	}
	if raw != "" {
		if t := cleanToken(raw); t != "" {
			return checkToken(token{t, "$" + name})
		}
	}
	path := expandPath(getenv("HF_TOKEN_PATH"), getenv)
	if path == "" {
		home := expandPath(getenv("HF_HOME"), getenv)
		if home == "" {
			cache := expandPath(getenv("XDG_CACHE_HOME"), getenv)
			if cache == "" {
				h := userHome(getenv)
				if h == "" {
					return token{}, nil
				}
				cache = filepath.Join(h, ".cache")
			}
			home = filepath.Join(cache, "huggingface")
		}
		path = filepath.Join(home, "token")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return token{}, nil
	}
	if err != nil {
		return token{}, fmt.Errorf("reading the Hugging Face token from %s: %w (fix the file's permissions, or set HF_TOKEN)", path, err)
	}
	if t := cleanToken(string(b)); t != "" {
		return checkToken(token{t, path})
	}
	return token{}, nil
}

// cleanToken removes line breaks and surrounding white space, as
// huggingface_hub does.
func cleanToken(s string) string {
	s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	return strings.TrimSpace(s)
}

// checkToken refuses a token that cannot go into an HTTP header.
func checkToken(t token) (token, error) {
	for _, r := range t.value {
		if r <= ' ' || r >= 0x7f {
			return token{}, fmt.Errorf("the Hugging Face token from %s contains a space, a control or a non-ASCII character: copy it again from https://huggingface.co/settings/tokens", t.source)
		}
	}
	return t, nil
}

// expandPath expands a leading ~ and $VARIABLES, as Python's
// os.path.expanduser and os.path.expandvars do for the hub's settings.
func expandPath(p string, getenv func(string) string) string {
	if p == "" {
		return ""
	}
	p = os.Expand(p, getenv)
	if p == "~" || strings.HasPrefix(p, "~/") {
		if h := userHome(getenv); h != "" {
			p = filepath.Join(h, p[1:])
		}
	}
	return p
}

// userHome is the home directory as os.UserHomeDir finds it, but read
// through getenv so that the lookup sees only the environment it is given.
func userHome(getenv func(string) string) string {
	if runtime.GOOS == "windows" {
		return getenv("USERPROFILE")
	}
	return getenv("HOME")
}
