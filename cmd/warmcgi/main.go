// Command warmcgi serves a directory of unmodified Python CGI scripts from
// embedded CPython: each script is compiled once and re-executed per
// request in long-lived sub-interpreters, while it still sees what a fresh
// CGI process under Apache mod_cgi would see.
//
// Usage:
//
//	warmcgi serve [flags] DIR   serve DIR at http://ADDR/cgi-bin/
//	warmcgi http [flags] [DIR] [PORT]  python3 -m http.server --cgi's drop-in
//	warmcgi check [flags] DIR   report how each file in DIR would run
//	warmcgi version             Go, Python and interpreter mode
//	warmcgi help                this text
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/server"
)

// Exit codes.
const (
	exitOK      = 0
	exitStartup = 1 // the server could not start
	exitUsage   = 2 // bad command line
	// exitAttention: warmcgi check found a script that will not be served
	// right (one that does not compile).
	exitAttention = 3
)

func main() {
	server.CloseInheritedOnExec()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `warmcgi serves a directory of unmodified Python CGI scripts from embedded CPython.

Usage:
  warmcgi serve [flags] DIR   serve the scripts in DIR (see 'warmcgi serve --help')
  warmcgi http [DIR] [PORT]   serve DIR's files and its cgi-bin/ as 'python3 -m http.server --cgi'
                              does, on 127.0.0.1:8000 (see 'warmcgi http --help')
  warmcgi check [flags] DIR   report how each file in DIR would run (migration report)
  warmcgi version             print the Go and Python versions and the interpreter mode
  warmcgi help                print this help
`

// run is the whole program; ctx ends on SIGINT/SIGTERM, and release stops
// catching them (so a second signal kills the process at once).
func run(ctx context.Context, release func(), args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, release, args[1:], stdout, stderr)
	case "http":
		return httpCmd(ctx, release, args[1:], stdout, stderr)
	case "check":
		return checkCmd(args[1:], stdout, stderr)
	case "worker": // internal: a process-mode worker started by serve (worker.go)
		return workerCmd(args[1:], stderr)
	case "version", "--version":
		printVersion(stdout)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "warmcgi: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

func printVersion(w io.Writer) {
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	fmt.Fprintf(w, "warmcgi %s\n", version)
	fmt.Fprintf(w, "go:      %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "python:  %s\n", oneLine(pythonVersion()))
	fmt.Fprintf(w, "linked:  %s\n", backend.PythonLinked())
	fmt.Fprintf(w, "mode:    %s\n", interpreterMode())
	fmt.Fprintf(w, "runtime: %s\n", backend.RuntimeSpecifics())
}

func pythonVersion() string { return backend.PythonVersion() }

// interpreterMode names the default isolation mode and its GIL.
func interpreterMode() string {
	if backend.OwnGIL() {
		return "subinterp (one sub-interpreter per worker thread, own GIL: parallel on all cores)"
	}
	return "subinterp (one sub-interpreter per worker thread, shared GIL: Python < 3.13)"
}

func oneLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
