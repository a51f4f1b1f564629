package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestEveryCommandIsRegistered compares the command table with the
// package's cmdXxx(args []string) error functions, so a command file whose
// function is not in the table fails here instead of printing "unknown
// command" to a user.
func TestEveryCommandIsRegistered(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var defined []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			if as, ok := n.(*ast.AssignStmt); ok {
				for _, l := range as.Lhs {
					if ix, ok := l.(*ast.IndexExpr); ok {
						if id, ok := ix.X.(*ast.Ident); ok && id.Name == "commands" {
							t.Errorf("%s: assigns into the command table; register commands only in the table in main.go", fset.Position(as.Pos()))
						}
					}
				}
			}
			return true
		})
		for _, d := range af.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !isCommandFunc(fn) {
				continue
			}
			defined = append(defined, fn.Name.Name)
		}
	}
	var registered []string
	for name, c := range commands {
		full := runtime.FuncForPC(reflect.ValueOf(c.run).Pointer()).Name()
		registered = append(registered, full[strings.LastIndex(full, ".")+1:])
		if c.summary == "" {
			t.Errorf("command %q has no summary for `bertserve help`", name)
		}
	}
	slices.Sort(defined)
	slices.Sort(registered)
	for _, d := range defined {
		if !slices.Contains(registered, d) {
			t.Errorf("%s is defined but not in the command table in main.go: add it, or users get \"unknown command\"", d)
		}
	}
	if len(defined) < len(commands) {
		t.Errorf("the table has %d commands, the package defines %d cmd functions: %v vs %v", len(commands), len(defined), registered, defined)
	}
}

// isCommandFunc matches func cmdXxx(args []string) error.
func isCommandFunc(fn *ast.FuncDecl) bool {
	n := fn.Name.Name
	if !strings.HasPrefix(n, "cmd") || len(n) < 4 || n[3] < 'A' || n[3] > 'Z' {
		return false
	}
	p, r := fn.Type.Params.List, fn.Type.Results
	if len(p) != 1 || len(p[0].Names) != 1 || r == nil || len(r.List) != 1 {
		return false
	}
	at, ok := p[0].Type.(*ast.ArrayType)
	if !ok || at.Len != nil {
		return false
	}
	elt, ok := at.Elt.(*ast.Ident)
	res, ok2 := r.List[0].Type.(*ast.Ident)
	return ok && ok2 && elt.Name == "string" && res.Name == "error"
}

func TestHelpListsEveryCommand(t *testing.T) {
	var b strings.Builder
	if code := run([]string{"help"}, &b); code != 0 {
		t.Fatalf("help exited %d", code)
	}
	for name := range commands {
		if !strings.Contains(b.String(), "  "+name+" ") {
			t.Errorf("help does not list %q:\n%s", name, b.String())
		}
	}
	b.Reset()
	if code := run([]string{"no-such-command"}, &b); code != 2 || !strings.Contains(b.String(), `unknown command "no-such-command"`) {
		t.Errorf("unknown command: exit %d, %q", code, b.String())
	}
}
