package check

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBackend routes by name: files named forced* match --cgi, *.py with
// a "#!/usr/bin/python3" line run embedded. Its checker reports a compile
// error for broken.py and a refused import for numpyish.py.
func fakeBackend(t *testing.T, ran *[]string) Backend {
	return Backend{
		ForcedPlain: func(path string) bool { return strings.HasPrefix(filepath.Base(path), "forced") },
		Embedded:    func(path string) bool { return firstLine(path) == "#!/usr/bin/python3" },
		Run: func(script string, args []string) ([]byte, error) {
			if b, err := os.ReadFile(script); err != nil || string(b) != string(checkScript) {
				t.Errorf("the checker run is not check.py: %v", err)
			}
			*ran = args
			out := []byte("Content-Type: application/json\n\n")
			for _, p := range args {
				r := Result{Path: p}
				switch filepath.Base(p) {
				case "broken.py":
					r.CompileError = "SyntaxError: invalid syntax (line 2)"
				case "numpyish.py":
					r.RefusedImports = []Import{{Module: "numpyish", Error: "does not support loading in subinterpreters"}}
					r.Constructs = []Construct{{Call: "os.fork", Line: 3, Compat: 49, Note: "refused"}}
				}
				b, _ := json.Marshal(r)
				out = append(append(out, b...), '\n')
			}
			return out, nil
		},
	}
}

// TestDir: every file is classified as serve would run it, and the
// checker's findings are merged into the embedded scripts' results.
func TestDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string]struct {
		body string
		mode os.FileMode
	}{
		"hello.py":     {"#!/usr/bin/python3\nprint()\n", 0o755},
		"broken.py":    {"#!/usr/bin/python3\nprint \"2\"\n", 0o755},
		"numpyish.py":  {"#!/usr/bin/python3\nimport numpyish\n", 0o755},
		"forced.py":    {"#!/usr/bin/python3\n", 0o755},
		"flagged.py":   {"#!/usr/bin/python3 -S\n", 0o755},
		"hello.sh":     {"#!/bin/sh\necho\n", 0o755},
		"noshebang.py": {"print()\n", 0o755},
		"lib.py":       {"#!/usr/bin/python3\n", 0o644},
		"old.py~":      {"#!/usr/bin/python3\n", 0o755},
		"sub/a.py":     {"#!/usr/bin/python3\n", 0o755},
	}
	for name, f := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	var ran []string
	results, err := Dir(dir, fakeBackend(t, &ran))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for _, r := range results {
		got[r.Path] = r
	}
	if len(got) != len(files) {
		t.Errorf("%d results for %d files: %+v", len(got), len(files), results)
	}
	for name, want := range map[string]struct {
		mode Mode
		why  string
	}{
		"hello.py":     {Embedded, ""},
		"sub/a.py":     {Embedded, ""},
		"broken.py":    {Fails, "does not compile: SyntaxError"},
		"numpyish.py":  {Embedded, "an import refuses sub-interpreters"},
		"forced.py":    {PlainCGI, "matches --cgi"},
		"flagged.py":   {PlainCGI, "interpreter flags this server cannot honour"},
		"hello.sh":     {PlainCGI, `"#!/bin/sh" is not a Python 3 interpreter`},
		"noshebang.py": {PlainCGI, "no #! line"},
		"lib.py":       {NotRun, "not executable"},
		"old.py~":      {NotRun, "never served"},
	} {
		r := got[name]
		if r.Mode != want.mode || !strings.Contains(r.Why, want.why) || want.why == "" && r.Why != "" {
			t.Errorf("%s: %s (%s), want %s (%s)", name, r.Mode, r.Why, want.mode, want.why)
		}
	}
	if c := got["numpyish.py"].Constructs; len(c) != 1 || c[0].Compat != 49 {
		t.Errorf("numpyish.py constructs %+v", c)
	}
	if len(ran) != 4 {
		t.Errorf("checker ran on %q, want the 4 embedded scripts", ran)
	}
}

// TestDirCheckerFails: a checker that fails, or reports fewer files than
// it was given, is an error; with nothing embedded it does not run.
func TestDirCheckerFails(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("no Python")
	b := Backend{
		ForcedPlain: func(string) bool { return false },
		Embedded:    func(path string) bool { return strings.HasSuffix(path, ".py") },
		Run:         func(string, []string) ([]byte, error) { return nil, failed },
	}
	if res, err := Dir(dir, b); err != nil || len(res) != 1 || res[0].Mode != PlainCGI {
		t.Errorf("nothing embedded: %+v, %v", res, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.py"), []byte("#!/usr/bin/python3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir(dir, b); !errors.Is(err, failed) {
		t.Errorf("failing checker: %v", err)
	}
	b.Run = func(string, []string) ([]byte, error) { return []byte("Content-Type: application/json\n\n"), nil }
	if _, err := Dir(dir, b); err == nil || !strings.Contains(err.Error(), "reported 0 of 1") {
		t.Errorf("silent checker: %v", err)
	}
}
