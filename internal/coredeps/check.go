package coredeps

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Violation is one place where a core package's own source does what the core may not.
type Violation struct {
	Pos token.Position
	Msg string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s:%d: %s", v.Pos.Filename, v.Pos.Line, v.Msg)
}

// forbiddenImport says why path may not be imported by the core's own source, or "" when it may.
// The transitive check (deps_test.go) cannot ban os: fmt and every encoder depend on it. Here only
// the core's own files are read, so a direct import of os is caught.
func forbiddenImport(path string) string {
	if path == "net/netip" {
		return "" // addresses as values: parsing and comparing, no socket, no lookup
	}
	for _, p := range []struct{ prefix, why string }{
		{"os", "files, processes and the environment are an adapter's"},
		{"io/ioutil", "files are an adapter's"},
		{"syscall", "the operating system is an adapter's"},
		{"net", "the network is an adapter's"},
		{"database/sql", "storage is an adapter's"},
		{"k8s.io", "Kubernetes is an adapter's"},
		{"sigs.k8s.io", "Kubernetes is an adapter's"},
	} {
		if path == p.prefix || strings.HasPrefix(path, p.prefix+"/") {
			return p.why
		}
	}
	return ""
}

// wallClock are the functions of package time that read the wall clock or wait on it. The core
// is given the time (Step's now), so that a forty-minute canary runs in a test in milliseconds.
var wallClock = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true, "AfterFunc": true,
	"Tick": true, "NewTimer": true, "NewTicker": true,
}

// CheckSource reads the non-test Go files of the package in dir and reports every import the
// core may not have, every use of a wall-clock function of package time (called or passed as a
// value), and every go statement. A directory with no such file is an error: a core package that
// was renamed or removed must not pass by having nothing to check.
func CheckSource(dir string) ([]Violation, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read core package: %w", err)
	}
	fset := token.NewFileSet()
	var vs []Violation
	files := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse core source: %w", err)
		}
		files++
		vs = append(vs, checkFile(fset, f)...)
	}
	if files == 0 {
		return nil, fmt.Errorf("%s: no Go source: a core package is missing or was renamed", dir)
	}
	sort.Slice(vs, func(i, j int) bool {
		a, b := vs[i].Pos, vs[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Line < b.Line
	})
	return vs, nil
}

func checkFile(fset *token.FileSet, f *ast.File) []Violation {
	var vs []Violation
	report := func(n ast.Node, format string, args ...any) {
		vs = append(vs, Violation{Pos: fset.Position(n.Pos()), Msg: fmt.Sprintf(format, args...)})
	}
	// The names under which this file sees package time (usually "time"; an alias too).
	timeNames := map[string]bool{}
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue // the parser accepted it, so it is quoted
		}
		if why := forbiddenImport(path); why != "" {
			report(imp, "imports %s: %s", path, why)
		}
		if path != "time" {
			continue
		}
		switch {
		case imp.Name == nil:
			timeNames["time"] = true
		case imp.Name.Name == ".":
			report(imp, "imports time with a dot: wall-clock reads would go unseen")
		case imp.Name.Name != "_":
			timeNames[imp.Name.Name] = true
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n, "go statement: the core starts no goroutines, the engine does")
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && timeNames[id.Name] && wallClock[n.Sel.Name] {
				report(n, "time.%s reads the wall clock: the core is given the time", n.Sel.Name)
			}
		}
		return true
	})
	return vs
}
