// Package check is the migration report (warmcgi check): for every file
// of a directory, how serve would run it (embedded, plain CGI, not at
// all) and why, whether it compiles, which constructs need a specific
// mode and which installed imports refuse sub-interpreters. The Python
// side, check.py, runs in an embedded interpreter that the caller's
// Backend provides.
package check

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/backend"
)

// checkScript is the checker run inside the interpreter: one JSON object
// per path in its arguments, after a CGI header block.
//
//go:embed check.py
var checkScript []byte

// Mode is how serve would run a file.
type Mode string

const (
	Embedded Mode = "embedded"  // in an embedded interpreter
	PlainCGI Mode = "plain-cgi" // one process per request
	NotRun   Mode = "not-run"   // never: 404 or 500 without running
	Fails    Mode = "fails"     // embedded, but it does not compile
)

// Result is one file's report.
type Result struct {
	Path           string      `json:"path"` // relative to the directory
	Mode           Mode        `json:"mode"`
	Why            string      `json:"why,omitempty"`
	CompileError   string      `json:"compile_error,omitempty"`
	Constructs     []Construct `json:"constructs,omitempty"`
	RefusedImports []Import    `json:"refused_imports,omitempty"`
	// Auto is the mode --isolation auto would run an embedded script in
	// and why ("process: imports swiglike (...)"); "subinterp" when it
	// would stay in a sub-interpreter (as far as the static scan sees).
	Auto string `json:"auto,omitempty"`
}

// autoCalls are the calls after which --isolation auto moves a script out
// of subinterp (the runtime reports them in pyhost's Result.NeedsMode).
var autoCalls = map[string]bool{
	"signal.alarm": true, "signal.setitimer": true, "os.fork": true,
	"os.forkpty": true, "pty.fork": true, "resource.setrlimit": true, "time.tzset": true,
}

// guardReason finds the reason in the runtime's refusal of an unsafe
// extension module (pyhost/runtime/extguard.py).
var guardReason = regexp.MustCompile(`is not safe in sub-interpreters \(([^)]*)\)`)

// autoMode is Result.Auto for an embedded script that compiles.
func autoMode(r *Result) string {
	if len(r.RefusedImports) > 0 {
		m := r.RefusedImports[0]
		why := "it refuses sub-interpreters"
		if sub := guardReason.FindStringSubmatch(m.Error); sub != nil {
			why = sub[1]
		}
		reason := "imports " + m.Module + " (" + why + ")"
		return backend.AutoTargetFor(reason) + ": " + reason
	}
	for _, c := range r.Constructs {
		if autoCalls[c.Call] {
			reason := fmt.Sprintf("calls %s (line %d)", c.Call, c.Line)
			if c.Call == "time.tzset" {
				// Moved only when the request's TZ names another zone
				// than the server's (TestAutoTZSame).
				reason += " when TZ names another zone than the server's"
			}
			return backend.AutoTargetFor(reason) + ": " + reason
		}
	}
	return "subinterp"
}

// Construct is a call that behaves differently, or needs a mode, under
// warmcgi (its COMPAT case says how).
type Construct struct {
	Call   string `json:"call"`
	Line   int    `json:"line"`
	Compat int    `json:"compat"`
	Note   string `json:"note"`
}

// Import is an installed module that refused to load in a sub-interpreter.
type Import struct {
	Module string `json:"module"`
	Error  string `json:"error"`
}

// Backend is what the report needs from the server's dispatch, so that it
// applies serve's own rules.
type Backend struct {
	// ForcedPlain reports whether a file matches a --cgi glob.
	ForcedPlain func(path string) bool
	// Embedded reports whether a file's first line lets it run in an
	// embedded interpreter (a Python 3 shebang with flags it honours).
	Embedded func(path string) bool
	// Run runs the Python script at path with args in an embedded
	// interpreter and returns what it wrote to its standard output.
	Run func(path string, args []string) ([]byte, error)
}

// ServeRules is the Backend serve uses: its --cgi globs under root, its
// shebang rules, and an embedded interpreter for the checker.
func ServeRules(root string, plain []string) Backend {
	return Backend{
		ForcedPlain: func(path string) bool { return backend.MatchesCGI(root, plain, path) },
		Embedded:    backend.Python3Script,
		Run:         backend.RunScript,
	}
}

// Dir classifies every regular file under dir with the rules serve
// applies, then runs the Python checker over the embedded ones.
func Dir(dir string, b Backend) ([]Result, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	h := &cgienv.Handler{Root: root, Prefix: "/cgi-bin/"}
	var results []Result
	var embedded []int
	err = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		r := Result{Path: rel}
		_, rerr := h.Resolve("/cgi-bin/" + (&url.URL{Path: filepath.ToSlash(rel)}).EscapedPath())
		switch {
		case errors.Is(rerr, cgienv.ErrNotFound):
			r.Mode, r.Why = NotRun, "never served: hidden, backup, bytecode or unreachable name (404)"
		case rerr != nil:
			r.Mode, r.Why = NotRun, strings.TrimPrefix(rerr.Error(), "cgienv: ")
			if strings.Contains(rerr.Error(), "execut") {
				r.Why = "not executable: 500, as under Apache (never served as content)"
			}
		case b.ForcedPlain(path):
			r.Mode, r.Why = PlainCGI, "matches --cgi"
		case b.Embedded(path):
			r.Mode = Embedded
			embedded = append(embedded, len(results))
		default:
			r.Mode, r.Why = PlainCGI, plainWhy(firstLine(path))
		}
		results = append(results, r)
		return nil
	})
	if err != nil || len(embedded) == 0 {
		return results, err
	}
	paths := make([]string, len(embedded))
	for i, k := range embedded {
		paths[i] = filepath.Join(root, results[k].Path)
	}
	reports, err := runChecker(b.Run, paths)
	if err != nil {
		return nil, err
	}
	for i, k := range embedded {
		rep := reports[i]
		r := &results[k]
		r.CompileError, r.Constructs, r.RefusedImports = rep.CompileError, rep.Constructs, rep.RefusedImports
		switch {
		case r.CompileError != "":
			r.Mode, r.Why = Fails, "does not compile: "+r.CompileError+" (500, as under Apache)"
		case len(r.RefusedImports) > 0:
			r.Why = "an import refuses sub-interpreters: needs --isolation-for GLOB=main (or =process)"
		}
		if r.Mode == Embedded {
			r.Auto = autoMode(r)
		}
	}
	return results, nil
}

// runChecker runs check.py with run and reads one report per path.
func runChecker(run func(string, []string) ([]byte, error), paths []string) ([]Result, error) {
	f, err := os.CreateTemp("", "warmcgi-check-*.py")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(checkScript); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	stdout, err := run(f.Name(), paths)
	if err != nil {
		return nil, err
	}
	_, body, _ := bytes.Cut(stdout, []byte("\n\n"))
	var out []Result
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("checker output: %w", err)
		}
		out = append(out, r)
	}
	if len(out) != len(paths) {
		return nil, fmt.Errorf("checker reported %d of %d files", len(out), len(paths))
	}
	return out, nil
}

func firstLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	return strings.TrimRight(line, "\r\n")
}

// plainWhy says why a file runs as plain CGI, from its first line.
func plainWhy(line string) string {
	if !strings.HasPrefix(line, "#!") {
		return "no #! line: the exec fails (500), as under Apache"
	}
	if strings.Contains(line, "python3") {
		return fmt.Sprintf("%q: interpreter flags this server cannot honour in-process", line)
	}
	return fmt.Sprintf("%q is not a Python 3 interpreter", line)
}
