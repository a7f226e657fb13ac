package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

// dispatchRunner sends each script to the runner that can run it as it
// would run under Apache (COMPAT 7, 12, 95): Python 3 scripts to the
// embedded interpreters, everything else (Perl, shell, binaries, Python 2,
// files without a shebang, scripts whose shebang passes flags other than
// -u, -O, -OO and -B, and anything matched by --cgi) to plain CGI, one
// process per request.
type dispatchRunner struct {
	// backends run the embedded scripts, one per isolation mode in use
	// (nil for the others); iso picks a script's mode.
	backends [numModes]pyBackend
	iso      *isolation
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
	mode     isolationMode
}

func (d *dispatchRunner) Run(ctx context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	if k := d.kind(req); k.embedded {
		return d.backends[k.mode].run(ctx, req, k.flags)
	}
	return d.cgi.Run(ctx, req)
}

func (d *dispatchRunner) kind(req *cgienv.Request) scriptKind {
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

func (d *dispatchRunner) forcedPlain(script string) bool {
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
	return fl, true
}

// execRunner runs a script as plain CGI: a child process with the request's
// environment, argv, body on stdin, started in the script's directory.
type execRunner struct {
	timeout time.Duration // 0: none
}

func (e execRunner) Run(ctx context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, req.Script, req.Args...)
	cmd.Env = req.Env
	cmd.Dir = filepath.Dir(req.Script)
	cmd.Stdin = bytes.NewReader(req.Stdin)
	if req.StdinFile != nil {
		cmd.Stdin = req.StdinFile // the child reads the spooled body directly
	}
	if req.StdinStream != nil {
		cmd.Stdin = req.StdinStream // copied to the child as it arrives
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// Its own process group, so a timeout or cancellation ends its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("plain CGI %s: %w", req.Script, ctx.Err())
	}
	out := &cgienv.Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		out.ExitCode = ee.ExitCode()
		out.Failure = ee.Error()
	default:
		// Apache logs the failed exec and answers 500: no output.
		out.ExitCode = 127
		out.Failure = err.Error()
		out.Stderr = append(out.Stderr, ("exec of " + req.Script + " failed: " + err.Error() + "\n")...)
	}
	return out, nil
}
