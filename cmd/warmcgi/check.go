package main

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
	"runtime"
	"strings"

	"github.com/spf13/pflag"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/pyhost"
)

// checkScript is the migration checker; it runs in an embedded
// interpreter exactly as a CGI script would.
//
//go:embed check.py
var checkScript []byte

const checkUsage = `Usage: warmcgi check [flags] DIR

Reports, for every file in DIR, how warmcgi would run it: embedded, as plain
CGI (and why), not at all (and why), whether it compiles, which constructs
need a specific mode, and which installed imports refuse sub-interpreters.

Flags:
`

// checkResult is one file's report.
type checkResult struct {
	Path           string           `json:"path"`
	Mode           string           `json:"mode"` // embedded, plain-cgi, not-run, fails
	Why            string           `json:"why,omitempty"`
	CompileError   string           `json:"compile_error,omitempty"`
	Constructs     []checkConstruct `json:"constructs,omitempty"`
	RefusedImports []checkImport    `json:"refused_imports,omitempty"`
}

type checkConstruct struct {
	Call   string `json:"call"`
	Line   int    `json:"line"`
	Compat int    `json:"compat"`
	Note   string `json:"note"`
}

type checkImport struct {
	Module string `json:"module"`
	Error  string `json:"error"`
}

func checkCmd(args []string, stdout, stderr io.Writer) int {
	fset := pflag.NewFlagSet("warmcgi check", pflag.ContinueOnError)
	fset.SetOutput(stderr)
	asJSON := fset.Bool("json", false, "one JSON object per file instead of text")
	var plain []string
	fset.StringArrayVar(&plain, "cgi", nil, "treat scripts matching this glob as plain CGI, as serve --cgi does (repeatable)")
	fset.Usage = func() {
		fmt.Fprint(stderr, checkUsage)
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fset.NArg() != 1 {
		fmt.Fprintln(stderr, "warmcgi check: exactly one DIR is required")
		fset.Usage()
		return exitUsage
	}
	results, err := checkDir(fset.Arg(0), plain)
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi check: %v\n", err)
		return exitStartup
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range results {
			enc.Encode(r)
		}
		return exitOK
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "%-9s  %s", r.Mode, r.Path)
		if r.Why != "" {
			fmt.Fprintf(stdout, ": %s", r.Why)
		}
		fmt.Fprintln(stdout)
		for _, c := range r.Constructs {
			fmt.Fprintf(stdout, "           line %d: %s (COMPAT %d): %s\n", c.Line, c.Call, c.Compat, c.Note)
		}
		for _, m := range r.RefusedImports {
			fmt.Fprintf(stdout, "           import %s refuses sub-interpreters: %s\n", m.Module, m.Error)
		}
	}
	return exitOK
}

// checkDir classifies every regular file under dir with the rules serve
// applies, then runs the Python checker over the embedded ones.
func checkDir(dir string, plain []string) ([]checkResult, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	h := &cgienv.Handler{Root: root, Prefix: "/cgi-bin/"}
	d := &dispatchRunner{root: root, plain: plain}
	var results []checkResult
	var embedded []int
	err = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		r := checkResult{Path: rel}
		_, rerr := h.Resolve("/cgi-bin/" + (&url.URL{Path: filepath.ToSlash(rel)}).EscapedPath())
		switch {
		case errors.Is(rerr, cgienv.ErrNotFound):
			r.Mode, r.Why = "not-run", "never served: hidden, backup, bytecode or unreachable name (404)"
		case rerr != nil:
			r.Mode, r.Why = "not-run", strings.TrimPrefix(rerr.Error(), "cgienv: ")
			if strings.Contains(rerr.Error(), "execut") {
				r.Why = "not executable: 500, as under Apache (never served as content)"
			}
		case d.forcedPlain(path):
			r.Mode, r.Why = "plain-cgi", "matches --cgi"
		default:
			if _, ok := python3Script(path); ok {
				r.Mode = "embedded"
				embedded = append(embedded, len(results))
			} else {
				r.Mode, r.Why = "plain-cgi", plainWhy(firstLine(path))
			}
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
	reports, err := runChecker(paths)
	if err != nil {
		return nil, err
	}
	for i, k := range embedded {
		rep := reports[i]
		r := &results[k]
		r.CompileError, r.Constructs, r.RefusedImports = rep.CompileError, rep.Constructs, rep.RefusedImports
		switch {
		case r.CompileError != "":
			r.Mode, r.Why = "fails", "does not compile: "+r.CompileError+" (500, as under Apache)"
		case len(r.RefusedImports) > 0:
			r.Why = "an import refuses sub-interpreters: needs --isolation-for GLOB=main (or =process)"
		}
	}
	return results, nil
}

// runChecker runs check.py in an embedded interpreter on its own locked
// thread and reads one report per path.
func runChecker(paths []string) ([]checkResult, error) {
	if err := pyhost.Init(pyhost.Config{}); err != nil {
		return nil, err
	}
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
	var res pyhost.Result
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the interpreter
		ip, err := pyhost.NewInterp(pyhost.InterpOptions{OwnGIL: pyhost.OwnGILSupported()})
		if err != nil {
			errc <- err
			return
		}
		defer ip.Close()
		st, _ := os.Stat(f.Name())
		errc <- ip.Exec(&pyhost.Request{
			Path:  f.Name(),
			Stamp: [4]int64{st.ModTime().UnixNano(), st.Size()},
			Env:   []byte("PATH=/usr/local/bin:/usr/bin:/bin\x00"),
			Args:  appendBlock(nil, paths),
		}, &res)
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	if res.Failure != "" {
		return nil, fmt.Errorf("checker failed: %s\n%s", res.Failure, res.Stderr)
	}
	_, body, _ := bytes.Cut(res.Stdout, []byte("\n\n"))
	var out []checkResult
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r checkResult
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
