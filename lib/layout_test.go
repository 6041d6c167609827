// Package lib_test checks the layout of lib/ as a whole: imports that only run
// downward, packages small enough to take in, functions that fit on a screen.
//
// A rule with a pending note is one that another change still has to make true: until
// then the test checks that it is still broken, and fails once it holds, so that the
// note is deleted and the rule enforced from then on.
package lib_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/gopherdl/gopherdl/"

// importRules say which packages a group of lib's packages must never reach, directly
// or through others.
var importRules = []struct {
	from    string   // an import path, or a prefix ending in "/..."
	never   []string // import paths, or prefixes ending in "/..."
	why     string
	pending string
}{
	{from: "lib/data/...", never: []string{"lib/progress", "lib/nb", "lib/nn", "lib/train", "lib/metrics", "lib/plot", "lib/serve", "lib/backend", "github.com/janpfeifer/gonb/..."},
		why: "data is the bottom layer: loading images links neither the models nor the Jupyter UI"},
	{from: "lib/data", never: []string{"lib/data/formats", "lib/data/fetch", "lib/data/datasets", "lib/data/embedded"},
		why: "the dataset and its loader do not know where datasets come from"},
	{from: "lib/data/fetch", never: []string{"lib/data", "lib/data/formats", "lib/data/datasets"},
		why: "downloading knows nothing of what it downloads"},
	{from: "lib/nn", never: []string{"lib/progress", "github.com/janpfeifer/gonb/..."},
		why: "a model does not link the progress bar or the Jupyter UI"},
	{from: "lib/serve", never: []string{"lib/plot", "gonum.org/v1/plot/..."},
		why: "the server does not link the charting library"},
	{from: "lib/...", never: []string{"lib/nb"},
		why: "nb is what notebook cells use; the library does not depend on it"},
	{from: "lib/...", never: []string{"cmd/...", "bench/..."},
		why: "commands sit on top of the library"},
}

// matches reports whether path is pattern, or under it when pattern ends in "/...".
func matches(path, pattern string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == pattern
}

// short drops the module path from the module's own packages.
func short(path string) string { return strings.TrimPrefix(path, module) }

// goCommand is the go command of the toolchain that built this test.
func goCommand() string { return filepath.Join(runtime.GOROOT(), "bin", "go") }

// libDeps returns every package of lib/ with the packages it reaches (go list -deps).
func libDeps(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command(goCommand(), "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./... in lib: %v\n%s", err, stderr.String())
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for i := range fields {
			fields[i] = short(fields[i])
		}
		deps[fields[0]] = fields[1:]
	}
	return deps
}

func TestImportsRunDownward(t *testing.T) {
	deps := libDeps(t)
	for _, rule := range importRules {
		var broken []string
		for pkg, reached := range deps {
			if !matches(pkg, rule.from) {
				continue
			}
			for _, dep := range reached {
				if slices.ContainsFunc(rule.never, func(p string) bool { return matches(dep, p) }) {
					broken = append(broken, pkg+" reaches "+dep)
				}
			}
		}
		slices.Sort(broken)
		switch {
		case rule.pending == "" && len(broken) > 0:
			t.Errorf("%s must not reach %v (%s):\n  %s", rule.from, rule.never, rule.why, strings.Join(broken, "\n  "))
		case rule.pending != "" && len(broken) == 0:
			t.Errorf("%s no longer reaches %v: the rule holds now; delete its pending note (%q) so that it stays so",
				rule.from, rule.never, rule.pending)
		}
	}
}

// maxExported is the most exported names (types, functions, methods of exported
// types, variables, constants) one package of lib may have.
const maxExported = 45

// maxFuncLines is the longest function of lib, in lines.
const maxFuncLines = 80

// longFuncsPending are the functions over maxFuncLines that another change splits.
var longFuncsPending = map[string]string{}

// libPackage is one package of lib, parsed: the files go build uses, tests left out.
type libPackage struct {
	path  string
	fset  *token.FileSet
	files []*ast.File
}

func libPackages(t *testing.T) []libPackage {
	t.Helper()
	var pkgs []libPackage
	for pkg := range libDeps(t) {
		dir := strings.TrimPrefix(strings.TrimPrefix(pkg, "lib"), "/")
		bp, err := build.Default.ImportDir(filepath.Join(".", dir), 0)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		p := libPackage{path: pkg, fset: token.NewFileSet()}
		for _, name := range bp.GoFiles {
			f, err := parser.ParseFile(p.fset, filepath.Join(bp.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			p.files = append(p.files, f)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// exportedNames lists a package's exported names; a method counts as Type.Method.
func exportedNames(p libPackage) []string {
	var names []string
	for _, f := range p.files {
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if recv := receiverType(d); recv != "" {
					if ast.IsExported(recv) {
						names = append(names, recv+"."+d.Name.Name)
					}
					continue
				}
				names = append(names, d.Name.Name)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
							}
						}
					}
				}
			}
		}
	}
	return names
}

// receiverType is the name of a method's receiver type, "" for a function.
func receiverType(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return ""
	}
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func TestPackagesAreSmall(t *testing.T) {
	for _, p := range libPackages(t) {
		if names := exportedNames(p); len(names) > maxExported {
			t.Errorf("%s has %d exported names, at most %d: split it by job (%s)", p.path, len(names), maxExported, strings.Join(names, ", "))
		}
	}
}

func TestFunctionsFitOnAScreen(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range libPackages(t) {
		for _, f := range p.files {
			for _, decl := range f.Decls {
				d, ok := decl.(*ast.FuncDecl)
				if !ok {
					continue
				}
				lines := p.fset.Position(d.End()).Line - p.fset.Position(d.Pos()).Line + 1
				key := p.path + "." + d.Name.Name
				if lines <= maxFuncLines {
					continue
				}
				seen[key] = true
				if _, pending := longFuncsPending[key]; !pending {
					t.Errorf("%s: %s is %d lines, at most %d", p.fset.Position(d.Pos()), d.Name.Name, lines, maxFuncLines)
				}
			}
		}
	}
	for key, note := range longFuncsPending {
		if !seen[key] {
			t.Errorf("%s fits in %d lines now: delete its pending note (%q)", key, maxFuncLines, note)
		}
	}
}

func TestRulesNameRealPackages(t *testing.T) {
	deps := libDeps(t)
	for _, rule := range importRules {
		found := false
		for pkg := range deps {
			found = found || matches(pkg, rule.from)
		}
		if !found {
			t.Errorf("import rule for %q matches no package of lib: %s", rule.from, fmt.Sprint(rule.never))
		}
	}
}

// envReaders are the packages of lib that may read the environment, and why: a
// setting the caller cannot see is a setting the code does not show.
var envReaders = map[string]string{
	"lib/backend":    "the backend choice (GOPHERDL_BACKEND, GOMLX_BACKEND)",
	"lib/data/fetch": "the cache folder (GOPHERDL_CACHE)",
	"lib/nb":         "GoNB's temporary folder for this kernel, where a cell keeps its cache",
}

func TestOnlyBackendAndCacheReadTheEnvironment(t *testing.T) {
	for _, p := range libPackages(t) {
		if _, ok := envReaders[p.path]; ok {
			continue
		}
		for _, f := range p.files {
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "os" && slices.Contains([]string{"Getenv", "LookupEnv"}, sel.Sel.Name) {
					t.Errorf("%s: %s reads the environment (os.%s): make it a field of the config or a parameter", p.fset.Position(sel.Pos()), p.path, sel.Sel.Name)
				}
				return true
			})
		}
	}
}
