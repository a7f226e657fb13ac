//go:build cgo

package pyhost

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestDatetimeInSubinterpreters: scripts importing datetime (sqlite3, cgi
// and email import it too) run in several interpreters at once, which are
// then closed and replaced, and the process lives on. On Python 3.13.0 the
// _datetime extension set up in a sub-interpreter first left objects of
// that interpreter behind for the others: closing it freed them under the
// rest (a double free or a segfault, 4 times in 4), which is why the
// main interpreter imports it first. The process under test is a fresh
// child of the test binary, whose main interpreter has imported nothing
// else yet.
func TestDatetimeInSubinterpreters(t *testing.T) {
	if os.Getenv("PYHOST_DATETIME_CHILD") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDatetimeInSubinterpreters$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "PYHOST_DATETIME_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "\nPASS") {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		return
	}
	path := script(t, "dates.py")
	const want = "Content-Type: text/plain\n\n2026-12-05 2461379\n"
	// Requests run on this one locked thread; each interpreter is made
	// and ended on a home thread of its own (NewInterp, Close).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	run := func(name string, ip *Interp) {
		var res Result
		if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(res.Stdout) != want {
			t.Errorf("%s: stdout %q, want %q (stderr %q)", name, res.Stdout, want, res.Stderr)
		}
	}
	newInterp := func() *Interp {
		ip, err := NewInterp(InterpOptions{OwnGIL: OwnGILSupported()})
		if err != nil {
			t.Fatal(err)
		}
		return ip
	}
	// The first interpreter to import datetime ends while the second
	// still uses it, as when a worker is recycled (--max-requests).
	a, b := newInterp(), newInterp()
	run("first interpreter", a)
	run("second interpreter", b)
	// Each is really ended (one left running would hide the fault).
	end := func(name string, ip *Interp) {
		if err := ip.Close(); err != nil {
			t.Errorf("closing the %s: %v", name, err)
		}
	}
	end("first interpreter", a)
	run("second interpreter, after the first ended", b)
	c := newInterp()
	run("third interpreter", c)
	end("second interpreter", b)
	run("third interpreter, after the second ended", c)
	end("third interpreter", c)
	if n := LeftRunning(); n != 0 {
		t.Errorf("LeftRunning() = %d after three interpreters were ended", n)
	}
}
