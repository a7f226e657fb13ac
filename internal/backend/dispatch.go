package backend

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/warmcgi/warmcgi/cgienv"
)

// mode names a kind of embedded backend (--isolation). Its value indexes
// Dispatcher.backends, so adding a mode is: a constant here, a name in
// modeNames, and a backend built in New.
type mode int

const (
	modeSubinterp mode = iota // a sub-interpreter per worker thread
	modeMain                  // the main interpreter (C extensions that refuse sub-interpreters)
	modeProcess               // a worker process per worker (full fidelity, crash containment)
	modeFork                  // a fork of a template process per request (exact CGI semantics)
	modeAuto                  // subinterp until a script shows it needs more, then autoTarget (auto.go)
	numModes
)

var modeNames = [numModes]string{"subinterp", "main", "process", "fork", "auto"}

func (m mode) String() string { return modeNames[m] }

func parseMode(s string) (mode, error) {
	for m, name := range modeNames {
		if s == name {
			return mode(m), nil
		}
	}
	return 0, fmt.Errorf("%q: want subinterp, main, process, fork or auto", s)
}

// pyBackend runs embedded Python requests in one isolation mode.
type pyBackend interface {
	run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error)
}

// isolationRule is one --isolation-for.
type isolationRule struct {
	glob string
	mode mode
}

// Isolation decides each Python 3 script's mode: --isolation and the
// --isolation-for rules. The nil *Isolation runs every script in a
// sub-interpreter.
type Isolation struct {
	root  string
	def   mode
	rules []isolationRule
	used  [numModes]bool // a script may run in the mode
	named [numModes]bool // --isolation or --isolation-for names it (not only auto)
}

// ParseIsolation reads --isolation MODE and --isolation-for GLOB=MODE
// rules; globs match a script's path under root or its base name.
func ParseIsolation(def string, rules []string, root string) (*Isolation, error) {
	m, err := parseMode(def)
	if err != nil {
		return nil, fmt.Errorf("--isolation %w", err)
	}
	iso := &Isolation{root: root, def: m}
	iso.use(m)
	for _, r := range rules {
		glob, name, ok := strings.Cut(r, "=")
		if !ok || glob == "" {
			return nil, fmt.Errorf("--isolation-for %q: want GLOB=MODE", r)
		}
		if _, err := filepath.Match(glob, ""); err != nil {
			return nil, fmt.Errorf("--isolation-for %q: %w", r, err)
		}
		m, err := parseMode(name)
		if err != nil {
			return nil, fmt.Errorf("--isolation-for %q: mode %w", r, err)
		}
		iso.rules = append(iso.rules, isolationRule{glob, m})
		iso.use(m)
	}
	return iso, nil
}

// use marks m as in use, with the modes auto runs scripts in.
func (iso *Isolation) use(m mode) {
	iso.used[m] = true
	iso.named[m] = true
	if m == modeAuto {
		iso.used[modeSubinterp] = true
		iso.used[autoExtTarget] = true
		iso.used[autoExactTarget] = true
	}
}

// UsesProcess reports whether some script may run in process mode.
func (iso *Isolation) UsesProcess() bool { return iso.uses(modeProcess) }

// UsesFork reports whether some script may run in fork mode.
func (iso *Isolation) UsesFork() bool { return iso.uses(modeFork) }

func (iso *Isolation) uses(m mode) bool {
	if iso == nil {
		return m == modeSubinterp
	}
	return iso.used[m]
}

// onlyAuto reports whether m is used only as a mode auto moves scripts to:
// its backend is started when the first script is moved there.
func (iso *Isolation) onlyAuto(m mode) bool {
	return iso != nil && iso.used[m] && !iso.named[m]
}

// modeFor returns the mode a script runs in.
func (iso *Isolation) modeFor(script string) mode {
	if iso == nil {
		return modeSubinterp
	}
	for _, r := range iso.rules {
		if globMatch(iso.root, r.glob, script) {
			return r.mode
		}
	}
	return iso.def
}

// globMatch matches a --cgi or --isolation-for glob against a script's
// path under root or its base name.
func globMatch(root, glob, script string) bool {
	rel, err := filepath.Rel(root, script)
	if err != nil {
		rel = script
	}
	if ok, _ := filepath.Match(glob, rel); ok {
		return true
	}
	ok, _ := filepath.Match(glob, filepath.Base(script))
	return ok
}

// dispatcher sends each script to the runner that can run it as it would
// run under Apache (COMPAT 7, 12, 95): Python 3 scripts to the embedded
// interpreters, everything else (Perl, shell, binaries, Python 2, files
// without a shebang, scripts whose shebang passes flags other than -u, -O,
// -OO and -B, and anything matched by --cgi) to plain CGI, one process
// per request.
type dispatcher struct {
	// backends run the embedded scripts, one per isolation mode in use
	// (nil for the others); iso picks a script's mode.
	backends [numModes]pyBackend
	iso      *Isolation
	cgi      cgienv.Runner
	root     string
	plain    []string // --cgi globs, matched against the path under root and the base name
	mu       sync.Mutex
	kinds    map[string]scriptKind // by path; re-read when the stamp changes
	maxKeep  int
}

type scriptKind struct {
	stamp    cgienv.Stamp
	embedded bool
	flags    shebangFlags
	mode     mode
}

func (d *dispatcher) Run(ctx context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	if k := d.kind(req); k.embedded {
		return d.backends[k.mode].run(ctx, req, k.flags)
	}
	return d.cgi.Run(ctx, req)
}

func (d *dispatcher) kind(req *cgienv.Request) scriptKind {
	d.mu.Lock()
	k, ok := d.kinds[req.Script]
	d.mu.Unlock()
	if ok && k.stamp == req.Stamp {
		return k
	}
	k = scriptKind{stamp: req.Stamp}
	if !d.forcedPlain(req.Script) {
		k.flags, k.embedded = python3Script(req.Script)
		k.mode = d.iso.modeFor(req.Script)
	}
	d.mu.Lock()
	if d.kinds == nil || len(d.kinds) >= d.maxKeep {
		d.kinds = make(map[string]scriptKind)
	}
	d.kinds[req.Script] = k
	d.mu.Unlock()
	return k
}

func (d *dispatcher) forcedPlain(script string) bool {
	for _, g := range d.plain {
		if globMatch(d.root, g, script) {
			return true
		}
	}
	return false
}

// python3Shebang matches the interpreter lines of Python 3 scripts that can
// run embedded: /usr/bin/python3, /usr/local/bin/python3.11 and
// /usr/bin/env python3, optionally with one flag word made of u (stdout
// unbuffered), O (optimise) and B (no bytecode: nothing to do here). Other
// flags (-S, -E, -I, -X ...) change how the interpreter starts, so such
// scripts run as plain CGI, exactly as their shebang says. (Linux passes
// what follows the interpreter as one word, so "env python3 -u" and
// "python3 -u -O" fail under Apache, and so they do here.)
var python3Shebang = regexp.MustCompile(`^#!\s*(?:(?:\S*/)?env\s+python3(?:\.\d+)?|(?:\S*/)?python3(?:\.\d+)?(?:\s+-([uOB]+))?)\s*$`)

// shebangFlags are the python3 flags honoured in-process.
type shebangFlags struct {
	unbuffered bool
	optimize   int
	noBytecode bool // -B: only fork mode has a process whose flag it can set
}

// Python3Script reports whether the file's first line makes it a Python
// 3 script that runs embedded.
func Python3Script(path string) bool {
	_, ok := python3Script(path)
	return ok
}

// python3Script reads the first line of the file: whether it can run
// embedded, and with which flags.
func python3Script(path string) (shebangFlags, bool) {
	var fl shebangFlags
	f, err := os.Open(path)
	if err != nil {
		return fl, false
	}
	defer f.Close()
	var buf [256]byte
	n, _ := io.ReadFull(f, buf[:])
	line := buf[:n]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	// A CR before the LF would make the kernel look for "python3\r"; Apache
	// fails then, warmcgi is lenient (COMPAT 10).
	line = bytes.TrimRight(line, "\r")
	m := python3Shebang.FindSubmatch(line)
	if m == nil {
		return fl, false
	}
	fl.unbuffered = bytes.IndexByte(m[1], 'u') >= 0
	fl.optimize = min(bytes.Count(m[1], []byte("O")), 2)
	fl.noBytecode = bytes.IndexByte(m[1], 'B') >= 0
	return fl, true
}

// MatchesCGI reports whether one of the --cgi globs makes script plain
// CGI (globs match its path under root or its base name).
func MatchesCGI(root string, globs []string, script string) bool {
	return (&dispatcher{root: root, plain: globs}).forcedPlain(script)
}
