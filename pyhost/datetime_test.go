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
// and email import it too) run in several own-GIL interpreters, which are
// ended one after another while the others go on, and the process lives.
// On Python 3.13.0, _datetime keeps state made by the first interpreter
// that imports it and shared by the rest; made by a sub-interpreter, it
// was freed under the others when that one ended (munmap_chunk(): invalid
// pointer, every time), which is why the main interpreter imports it
// first. Each Close must really end its interpreter, or the fault would
// not show. The process under test is a fresh child of the test binary,
// whose main interpreter has imported nothing else.
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
	// Every interpreter is made, runs its requests and is ended on this
	// one locked thread, which owns them all.
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
}
