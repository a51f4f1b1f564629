package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDeployManifests parses every manifest under deploy/ and runs the
// bertserve command line of each container that starts bertserve through
// the CLI's entry point with flags parsed but nothing run: a manifest
// cannot name a flag the binary does not have.
func TestDeployManifests(t *testing.T) {
	root := filepath.Join(repoRoot(t), "deploy")
	var files []string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no manifests under deploy/")
	}
	dryRun = true
	defer func() { dryRun = false }()
	commands := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for doc := 0; ; doc++ {
			var v any
			if err := dec.Decode(&v); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: document %d does not parse: %v", f, doc, err)
			}
			m, ok := v.(map[string]any)
			if !ok || m["apiVersion"] == nil || m["kind"] == nil {
				t.Errorf("%s: document %d has no apiVersion and kind", f, doc)
				continue
			}
			for _, c := range containers(v) {
				args := bertserveArgs(c)
				if args == nil {
					continue
				}
				commands++
				parsedBy = ""
				var stderr strings.Builder
				if code := run(args, &stderr); code != 0 || parsedBy == "" {
					t.Errorf("%s: `bertserve %s` does not parse (exit %d): %s", f, strings.Join(args, " "), code, stderr.String())
				}
			}
		}
	}
	if commands == 0 {
		t.Error("no container under deploy/ runs bertserve")
	}
}

// containers finds every pod-spec container (and init container) in v.
func containers(v any) []map[string]any {
	var out []map[string]any
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if list, ok := val.([]any); ok && (k == "containers" || k == "initContainers") {
				for _, c := range list {
					if cm, ok := c.(map[string]any); ok {
						out = append(out, cm)
					}
				}
				continue
			}
			out = append(out, containers(val)...)
		}
	case []any:
		for _, val := range x {
			out = append(out, containers(val)...)
		}
	}
	return out
}

// bertserveArgs is the argument list after "bertserve" of a container's
// command + args, or nil when it does not run bertserve.
func bertserveArgs(c map[string]any) []string {
	var words []string
	for _, key := range []string{"command", "args"} {
		list, _ := c[key].([]any)
		for _, w := range list {
			s, _ := w.(string)
			words = append(words, s)
		}
	}
	for i, w := range words {
		if filepath.Base(w) == "bertserve" {
			return words[i+1:]
		}
	}
	return nil
}
