package hub_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/bertserve/bertserve/models/hub"
)

// The hub's refusals become errors that say what to do: a gated repo
// (401, X-Error-Code: GatedRepo) is ErrUnauthorized, an unknown repo
// (404, RepoNotFound) is ErrNotFound. Nothing is written in either case.
func ExamplePull_errors() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/models/acme/gated/revision/main" {
			w.Header().Set("X-Error-Code", "GatedRepo")
			http.Error(w, "restricted", http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, "not found", http.StatusNotFound)
	}))
	defer srv.Close()
	tmp, _ := os.MkdirTemp("", "hub-example")
	defer os.RemoveAll(tmp)

	for _, repo := range []string{"acme/gated", "acme/missing"} {
		_, err := hub.Pull(context.Background(), repo, hub.Options{Endpoint: srv.URL, Dir: filepath.Join(tmp, "model")})
		msg, _, _ := strings.Cut(err.Error(), " (")
		fmt.Println(msg)
		fmt.Println("  unauthorized:", errors.Is(err, hub.ErrUnauthorized), "not found:", errors.Is(err, hub.ErrNotFound))
	}
	entries, _ := os.ReadDir(tmp)
	fmt.Println("files written:", len(entries))
	// Output:
	// pulling acme/gated: listing acme/gated at revision "main": repo is gated or private: set HF_TOKEN
	//   unauthorized: true not found: false
	// pulling acme/missing: listing acme/missing at revision "main": no such repo or revision
	//   unauthorized: false not found: true
	// files written: 0
}

func ExampleDefaultDir() {
	old, had := os.LookupEnv("BERTSERVE_CACHE")
	os.Setenv("BERTSERVE_CACHE", "/var/cache/bertserve")
	defer func() {
		if had {
			os.Setenv("BERTSERVE_CACHE", old)
		} else {
			os.Unsetenv("BERTSERVE_CACHE")
		}
	}()
	fmt.Println(hub.DefaultDir("google-bert/bert-base-chinese"))
	// Output:
	// /var/cache/bertserve/models/google-bert--bert-base-chinese
}
