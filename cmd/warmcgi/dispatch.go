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
// files without a shebang, scripts whose shebang passes interpreter flags,
// and anything matched by --cgi) to plain CGI, one process per request.
type dispatchRunner struct {
	py      cgienv.Runner
	cgi     cgienv.Runner
	root    string
	plain   []string // --cgi globs, matched against the path under root and the base name
	mu      sync.Mutex
	kinds   map[string]scriptKind // by path; re-read when the stamp changes
	maxKeep int
}

type scriptKind struct {
	stamp    cgienv.Stamp
	embedded bool
}

func (d *dispatchRunner) Run(ctx context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	if d.embedded(req) {
		return d.py.Run(ctx, req)
	}
	return d.cgi.Run(ctx, req)
}

func (d *dispatchRunner) embedded(req *cgienv.Request) bool {
	d.mu.Lock()
	k, ok := d.kinds[req.Script]
	d.mu.Unlock()
	if ok && k.stamp == req.Stamp {
		return k.embedded
	}
	k = scriptKind{stamp: req.Stamp, embedded: !d.forcedPlain(req.Script) && isPython3Script(req.Script)}
	d.mu.Lock()
	if d.kinds == nil || len(d.kinds) >= d.maxKeep {
		d.kinds = make(map[string]scriptKind)
	}
	d.kinds[req.Script] = k
	d.mu.Unlock()
	return k.embedded
}

func (d *dispatchRunner) forcedPlain(script string) bool {
	rel, err := filepath.Rel(d.root, script)
	if err != nil {
		rel = script
	}
	for _, g := range d.plain {
		if ok, _ := filepath.Match(g, rel); ok {
			return true
		}
		if ok, _ := filepath.Match(g, filepath.Base(script)); ok {
			return true
		}
	}
	return false
}

// python3Shebang matches the interpreter lines that mean "Python 3, no
// flags": /usr/bin/python3, /usr/local/bin/python3.11, /usr/bin/env python3.
// A flag (-u, -O, -S, ...) changes the process's configuration, so such
// scripts run as plain CGI, exactly as their shebang says.
var python3Shebang = regexp.MustCompile(`^#!\s*(?:\S*/)?(?:env\s+)?python3(?:\.\d+)?\s*$`)

// isPython3Script reads the first line of the file.
func isPython3Script(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
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
	return python3Shebang.Match(line)
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
