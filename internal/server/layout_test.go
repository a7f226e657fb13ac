package server

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/warmcgi/warmcgi/"

// allowed is DESIGN.md's package table: what each package's product code
// may import besides the standard library.
var allowed = map[string][]string{
	"cgienv":            nil,
	"interp":            {"golang.org/x/sys/"},
	"pyhost":            {"C", module + "cgienv"},
	"internal/procmode": {"golang.org/x/sys/"},
	"internal/frontend": {module + "cgienv"},
	"internal/observe":  {"github.com/prometheus/client_golang/", module + "cgienv", module + "interp"},
	"internal/backend":  {"golang.org/x/sys/", module + "cgienv", module + "interp", module + "pyhost", module + "internal/procmode"},
	"internal/check":    {module + "cgienv", module + "internal/backend"},
	"internal/server":   {"github.com/fsnotify/fsnotify", module + "cgienv", module + "internal/"},
	"cmd/warmcgi":       {"github.com/spf13/pflag", module + "cgienv", module + "internal/"},
}

// TestLayout: every package imports only what the package table allows,
// so pyhost (the one cgo package) is reached through internal/backend
// alone and cgienv, interp, procmode, frontend and observe stay pure Go.
func TestLayout(t *testing.T) {
	root := filepath.Join("..", "..")
	for dir, ok := range allowed {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Errorf("%s: no Go files (%v)", dir, err)
			continue
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range file.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				std := !strings.Contains(strings.Split(path, "/")[0], ".") && path != "C"
				if std || slices.ContainsFunc(ok, func(p string) bool { return path == p || strings.HasPrefix(path, p) && strings.HasSuffix(p, "/") }) {
					continue
				}
				t.Errorf("%s imports %s, which the package table does not allow", f, path)
			}
		}
	}
}
