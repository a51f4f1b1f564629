package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/bertserve/bertserve/encoder"
)

// readmeCommand is one `bertserve ...` command line the README shows.
type readmeCommand struct {
	line int    // README line it starts on
	text string // as shown, continuation lines joined
	// full is the line with optional [groups] kept (first alternative),
	// required has them dropped; both with placeholders as written.
	full, required []string
	vars           bool // it uses a shell variable ($MODEL), so it is not run for real
}

// readmeCommands extracts every bertserve command line of README.md: lines
// of the sh code blocks and inline code spans that start with bertserve or
// bin/bertserve (after environment assignments or $( ).
func readmeCommands(t *testing.T, path string) []readmeCommand {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var out []readmeCommand
	var prose strings.Builder // prose with code blocks blanked, line breaks kept
	inBlock := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inBlock = !inBlock
			prose.WriteString("\n")
			continue
		}
		if !inBlock {
			prose.WriteString(l + "\n")
			continue
		}
		prose.WriteString("\n")
		start := i
		text := l
		for strings.HasSuffix(strings.TrimSpace(text), "\\") && i+1 < len(lines) {
			text = strings.TrimSuffix(strings.TrimSpace(text), "\\") + " " + strings.TrimSpace(lines[i+1])
			i++
			prose.WriteString("\n")
		}
		if c, ok := parseReadmeCommand(start+1, text); ok {
			out = append(out, c)
		}
	}
	// Inline code spans, which may wrap across lines.
	p := prose.String()
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatchIndex(p, -1) {
		span := p[m[2]:m[3]]
		line := strings.Count(p[:m[0]], "\n") + 1
		if c, ok := parseReadmeCommand(line, strings.Join(strings.Fields(span), " ")); ok {
			out = append(out, c)
		}
	}
	return out
}

var envAssign = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=\S*\s+`)

func parseReadmeCommand(line int, text string) (readmeCommand, bool) {
	s := strings.TrimSpace(text)
	if i := strings.Index(s, "$("); i >= 0 { // MODEL=$(bin/bertserve pull ...)
		s = s[i+2:]
		if j := strings.LastIndex(s, ")"); j >= 0 {
			s = s[:j] + s[j+1:]
		}
	}
	for envAssign.MatchString(s) {
		s = envAssign.ReplaceAllString(s, "")
	}
	switch {
	case strings.HasPrefix(s, "bin/bertserve "):
		s = strings.TrimPrefix(s, "bin/bertserve ")
	case strings.HasPrefix(s, "bertserve "):
		s = strings.TrimPrefix(s, "bertserve ")
	default:
		return readmeCommand{}, false
	}
	if i := strings.Index(s, " #"); i >= 0 {
		s = s[:i]
	}
	words := shellWords(s)
	if len(words) == 0 || !isCommandWord(words[0]) {
		return readmeCommand{}, false
	}
	c := readmeCommand{line: line, text: text, vars: strings.Contains(s, "$")}
	c.full, c.required = expandOptional(words)
	return c, true
}

func isCommandWord(w string) bool {
	for _, r := range w {
		if !unicode.IsLower(r) && r != '-' {
			return false
		}
	}
	return w != ""
}

// shellWords splits like sh for the quoting the README uses.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// expandOptional resolves a synopsis: "[--a X | --b Y]" keeps "--a X" in
// full and nothing in required; "auto|cls|mean" takes "auto"; "cuda[:N]"
// drops the optional suffix.
func expandOptional(words []string) (full, required []string) {
	depth, skipAlt := 0, false
	for _, w := range words {
		open := strings.HasPrefix(w, "[")
		w = strings.TrimPrefix(w, "[")
		closes := strings.Count(w, "]") - strings.Count(w, "[")
		w = regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(w, "") // cuda[:N]
		w = strings.TrimRight(w, "]")
		if open {
			depth++
			skipAlt = false
		}
		if w == "|" {
			skipAlt = true
		} else if w != "" {
			if i := strings.Index(w, "|"); i > 0 && !strings.HasPrefix(w, "-") {
				w = w[:i]
			}
			if !skipAlt {
				full = append(full, w)
				if depth == 0 {
					required = append(required, w)
				}
			}
		}
		if closes > 0 && depth > 0 {
			depth--
			skipAlt = false
		}
	}
	return full, required
}

// placeholders maps the README's metavariables to values a flag accepts.
var placeholders = map[string]string{"N": "8", "I/N": "0/2", "D": "0.001", "K": "2", "R": "main", "URL": "http://127.0.0.1:9"}

// TestReadmeCommandsParse runs every bertserve command line of the README
// through the CLI's entry point with flags parsed but nothing run: the
// command must exist and every flag it shows must parse.
func TestReadmeCommandsParse(t *testing.T) {
	cmds := readmeCommands(t, filepath.Join(repoRoot(t), "README.md"))
	if len(cmds) < 15 {
		t.Fatalf("found only %d bertserve command lines in README.md; is the extraction broken?", len(cmds))
	}
	seen := map[string]bool{}
	dryRun = true
	defer func() { dryRun = false }()
	for _, c := range cmds {
		args := make([]string, len(c.full))
		for i, w := range c.full {
			if v, ok := placeholders[w]; ok {
				w = v
			}
			args[i] = w
		}
		parsedBy = ""
		var stderr strings.Builder
		code := run(args, &stderr)
		switch {
		case code != 0:
			t.Errorf("README.md:%d: `bertserve %s` exits %d: %s", c.line, strings.Join(args, " "), code, stderr.String())
		case parsedBy == "" && !isHelp(args):
			t.Errorf("README.md:%d: `bertserve %s` did not parse its flags through parseFlags", c.line, strings.Join(args, " "))
		case parsedBy != "" && !strings.HasPrefix(parsedBy, args[0]):
			t.Errorf("README.md:%d: `bertserve %s` was parsed by %q", c.line, strings.Join(args, " "), parsedBy)
		}
		seen[args[0]] = true
	}
	for _, want := range []string{"embed", "tokenize", "train", "predict", "eval", "serve", "pull", "import", "build-model"} {
		if !seen[want] {
			t.Errorf("README.md shows no `bertserve %s` line; the extraction missed it", want)
		}
	}
	t.Logf("%d README command lines parse: %v", len(cmds), keys(seen))
}

func isHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return fmt.Sprint(len(ks))
}

// TestReadmeCommandsRun runs, for real and offline, every README command
// line that needs only the default model: embed, tokenize, train, predict,
// eval, quantize and serve -h, each as shown (optional flags dropped, and once with
// them where they take values), in a temporary directory laid out like a
// checkout next to ../shared/data.
func TestReadmeCommandsRun(t *testing.T) {
	cache := encoder.CacheDir()
	model := filepath.Join(cache, "models", "default")
	_, errLib := encoder.FindLibrary("")
	_, errModel := os.Stat(filepath.Join(model, "model.onnx"))
	if errLib != nil || errModel != nil {
		if os.Getenv("BERTSERVE_REQUIRE_ORT") == "1" {
			t.Fatalf("run make setup: %v %v", errLib, errModel)
		}
		t.Skipf("run make setup: %v %v", errLib, errModel)
	}
	root := t.TempDir()
	work := filepath.Join(root, "bertserve")
	sst2 := filepath.Join(root, "shared", "data", "sst2")
	for _, d := range []string{work, sst2} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"train.tsv", "dev.tsv", "test.tsv"} {
		writeSentiment(t, filepath.Join(sst2, f), 12)
	}
	writeFile(t, filepath.Join(work, "texts.txt"), "hello world\na second line\n\n")
	writeFile(t, filepath.Join(work, "corpus.tsv"), "sentence\tlabel\na fine film\t1\na dull film\t0\n")
	t.Chdir(work)

	ran := map[string]bool{}
	for _, c := range readmeCommands(t, filepath.Join(repoRoot(t), "README.md")) {
		name := c.full[0]
		switch {
		case c.vars, len(c.full) < 2: // a variable, or a command named in prose
			continue
		case name == "serve" && isHelp(c.full):
		case name == "embed", name == "tokenize", name == "train", name == "predict", name == "eval", name == "quantize":
		default:
			continue
		}
		forms := [][]string{c.required}
		if strings.Join(c.full, " ") != strings.Join(c.required, " ") {
			forms = append(forms, c.full)
		}
		for _, form := range forms {
			args := make([]string, len(form))
			for i, w := range form {
				switch {
				case w == "DIR" && i > 0 && form[i-1] == "--model" && slices.Contains(form, "--pair"):
					// The default model may have no pair template (USE-lite
					// has none); pairs are shown on a BERT tokenizer.
					w = filepath.Join(cache, "vocab", "bert-base-uncased", "tokenizer.json")
				case w == "DIR" && i > 0 && form[i-1] == "--model":
					w = model
				case strings.HasPrefix(w, "~/.cache/bertserve"):
					w = cache + strings.TrimPrefix(w, "~/.cache/bertserve")
				}
				if v, ok := placeholders[w]; ok {
					w = v
				}
				args[i] = w
			}
			stdout, code, stderr := runCLI(t, args, "hello world\tits pair\nthe second\tpair line\n")
			if code != 0 {
				t.Errorf("README.md:%d: `bertserve %s` exited %d:\n%s", c.line, strings.Join(args, " "), code, tail(stderr, 2000))
				continue
			}
			ran[name] = true
			switch name {
			case "predict":
				if !strings.HasPrefix(stdout, `[{"label":`) {
					t.Errorf("README.md:%d: predict printed %q", c.line, stdout)
				}
			case "tokenize":
				if !strings.Contains(stdout, `"ids":[`) {
					t.Errorf("README.md:%d: tokenize printed %q", c.line, stdout)
				}
			}
		}
	}
	for _, want := range []string{"embed", "tokenize", "train", "predict", "eval", "serve", "quantize"} {
		if !ran[want] {
			t.Errorf("no README `bertserve %s` line ran", want)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "heads", "sentiment", "head.json")); err != nil {
		t.Errorf("the README's train did not write heads/sentiment: %v", err)
	}
}

// runCLI runs the CLI's entry point with stdin, capturing stdout and stderr.
func runCLI(t *testing.T, args []string, stdin string) (stdout string, code int, stderr string) {
	t.Helper()
	in, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	in.WriteString(stdin)
	in.Seek(0, 0)
	oldIn, oldErr := os.Stdin, os.Stderr
	errFile, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	os.Stdin, os.Stderr = in, errFile
	var errBuf strings.Builder
	stdout, _ = captureStdout(t, func() error {
		code = run(args, &errBuf)
		return nil
	})
	os.Stdin, os.Stderr = oldIn, oldErr
	in.Close()
	errFile.Close()
	b, _ := os.ReadFile(errFile.Name())
	return stdout, code, string(b) + errBuf.String()
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
