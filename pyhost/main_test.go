//go:build cgo

package pyhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every Main interp in this test binary uses the options of mainOptions
// (the first Main interp's options hold for the process), except in
// TestMainTimeout's child process.
var mainOptions = InterpOptions{Main: true}

// TestMainIsMainInterpreter: Main runs the script in the main interpreter,
// the default in a sub-interpreter.
func TestMainIsMainInterpreter(t *testing.T) {
	path := script(t, "whichinterp.py")
	for _, mode := range isolationModes {
		var res Result
		onThread2(t, mode.opts, func(ip *Interp) {
			if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); err != nil {
				t.Error(err)
			}
		})
		want := map[bool]string{true: "main", false: "sub"}[mode.opts.Main]
		if got := string(res.Stdout); got != "Content-Type: text/plain\n\n"+want+"\n" {
			t.Errorf("%s: stdout %q, want %s (stderr %q)", mode.name, got, want, res.Stderr)
		}
	}
}

// TestSubinterpRefusal: a script importing an extension that cannot live in
// a sub-interpreter runs in main mode, and in a sub-interpreter fails with a
// traceback whose last line names the fix (COMPAT 81).
func TestSubinterpRefusal(t *testing.T) {
	tests := []struct {
		name, script, module, stdout string
		install                      string // how to get the module
		// refused says whether this Python's sub-interpreters refuse it
		// (false: skip the sub-interpreter half, with the reason).
		refused func() (bool, string)
	}{
		{name: "numpy", script: "numpyimport.py", module: "numpy", install: "Debian's Python: apt-get install python3-numpy",
			stdout:  "Content-Type: text/plain\n\nnumpy sum 10\n",
			refused: func() (bool, string) { return true, "" }},
		{name: "single-phase init", script: "singlephase.py", module: "_testsinglephase",
			install: "a CPython 3.12+ built with its test modules (pyenv) has it",
			stdout:  "Content-Type: text/plain\n\nsingle-phase _testsinglephase\n",
			refused: func() (bool, string) {
				// CPython checks extensions only in own-GIL interpreters (3.13+).
				return OwnGILSupported(), "legacy sub-interpreters load single-phase modules"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := script(t, tt.script)
			var main, sub Result
			onThread2(t, mainOptions, func(ip *Interp) {
				if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &main); err != nil {
					t.Error(err)
				}
			})
			if strings.HasPrefix(main.Failure, "ModuleNotFoundError: No module named '"+tt.module+"'") {
				msg := fmt.Sprintf("%s is not installed for Python %s", tt.module, strings.Fields(Version())[0])
				if tt.module == "numpy" && os.Getenv("CI") == "true" && debianPython() {
					t.Fatalf("%s (CI installs it: apt-get install python3-numpy)", msg)
				}
				t.Skipf("skipping: %s (%s)", msg, tt.install)
			}
			if string(main.Stdout) != tt.stdout || main.Failure != "" {
				t.Fatalf("main mode: stdout %q failure %q, want %q (stderr %q)", main.Stdout, main.Failure, tt.stdout, main.Stderr)
			}
			if ok, why := tt.refused(); !ok {
				t.Skipf("main mode works; the sub-interpreter half does not apply: %s on Python %s", why, strings.Fields(Version())[0])
			}
			// Twice, in two sub-interpreters: the second import is the one
			// that used to crash the server (numpy).
			for i := 0; i < 2; i++ {
				onThread(t, func(ip *Interp) {
					if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &sub); err != nil {
						t.Error(err)
					}
				})
				if len(sub.Stdout) != 0 || sub.ExitCode != 1 || !strings.HasPrefix(sub.Failure, "ImportError") {
					t.Fatalf("sub-interpreter %d: stdout %q exit %d failure %q, want an ImportError before any output",
						i, sub.Stdout, sub.ExitCode, sub.Failure)
				}
				lines := strings.Split(strings.TrimSuffix(string(sub.Stderr), "\n"), "\n")
				want := "warmcgi: module '" + tt.module + "' cannot load in a sub-interpreter; serve this script with --isolation-for '" +
					tt.script + "=main' (or --isolation process)"
				if lines[0] != "Traceback (most recent call last):" || lines[len(lines)-1] != want {
					t.Errorf("sub-interpreter %d: stderr\n%s\nwant a traceback ending with\n%s", i, sub.Stderr, want)
				}
			}
		})
	}
}

// TestSubinterpHintOnlyForRefusals: an ordinary ImportError gets no hint.
func TestSubinterpHintOnlyForRefusals(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/missing.py"
	if err := os.WriteFile(path, []byte("import no_such_module_here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var res Result
	onThread(t, func(ip *Interp) {
		if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); err != nil {
			t.Error(err)
		}
	})
	if !strings.HasSuffix(string(res.Stderr), "ModuleNotFoundError: No module named 'no_such_module_here'\n") {
		t.Errorf("stderr %q, want the plain traceback", res.Stderr)
	}
}

// TestMainTakesTurns: Main interps on several threads share one runtime, so
// their requests run one at a time and never see each other's environment
// or arguments, while a sub-interpreter worker keeps running alongside.
func TestMainTakesTurns(t *testing.T) {
	turns := script(t, "turns.py")
	hello := script(t, "hello.py")
	const workers, requests = 3, 5
	var wg sync.WaitGroup
	errs := make(chan error, (workers+1)*requests)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			onThread2(t, mainOptions, func(ip *Interp) {
				for i := 0; i < requests; i++ {
					q := fmt.Sprintf("w%d-%d", w, i)
					var res Result
					err := ip.Exec(&Request{Path: turns, Stamp: stampOf(t, turns), Env: envBlock("QUERY_STRING=" + q), Args: envBlock(q)}, &res)
					want := fmt.Sprintf("Content-Type: text/plain\n\n%s %s ['%s']\n", q, q, q)
					if err != nil || string(res.Stdout) != want {
						errs <- fmt.Errorf("main worker %d: %v, stdout %q, want %q (stderr %q)", w, err, res.Stdout, want, res.Stderr)
					}
				}
			})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		onThread(t, func(ip *Interp) {
			for i := 0; i < requests*workers; i++ {
				var res Result
				err := ip.Exec(&Request{Path: hello, Stamp: stampOf(t, hello), Env: envBlock("QUERY_STRING=s")}, &res)
				if want := "Content-Type: text/plain\n\nhello s [] __main__\n"; err != nil || string(res.Stdout) != want {
					errs <- fmt.Errorf("sub-interpreter worker: %v, stdout %q, want %q", err, res.Stdout, want)
				}
			}
		})
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestMainOptionsFixed: the runtime in the main interpreter has the first
// Main interp's options; a Main interp asking for others is refused.
func TestMainOptionsFixed(t *testing.T) {
	onThread2(t, mainOptions, func(ip *Interp) {}) // make sure the main runtime exists
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		opts := mainOptions
		opts.KeepModules = !opts.KeepModules
		ip, err := NewInterp(opts)
		if err == nil {
			ip.Close()
		}
		done <- err
	}()
	if err := <-done; !errors.Is(err, ErrCreate) || !strings.Contains(err.Error(), "other options") {
		t.Errorf("NewInterp with other main options: %v, want ErrCreate naming the options", err)
	}
}

// TestMainTimeout: the watchdog ends a runaway request in main mode too. It
// needs a Timeout, which the other Main interps of this binary do not have,
// so it runs in a child process of the test binary.
func TestMainTimeout(t *testing.T) {
	if os.Getenv("PYHOST_MAIN_TIMEOUT_CHILD") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMainTimeout$", "-test.count=1")
		cmd.Env = append(os.Environ(), "PYHOST_MAIN_TIMEOUT_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	loop := script(t, "loop.py")
	hello := script(t, "hello.py")
	onThread2(t, InterpOptions{Main: true, Timeout: 200 * time.Millisecond}, func(ip *Interp) {
		var res Result
		if err := ip.Exec(&Request{Path: loop, Stamp: stampOf(t, loop)}, &res); err != nil {
			t.Fatal(err)
		}
		if !res.TimedOut || string(res.Stdout) != "Content-Type: text/plain\n\nlooping\n" {
			t.Errorf("runaway script: timed out %v, stdout %q, failure %q", res.TimedOut, res.Stdout, res.Failure)
		}
		if err := res.Err(); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("runaway script: Err() = %v, want one matching ErrTimeout and context.DeadlineExceeded", err)
		}
		if err := ip.Exec(&Request{Path: hello, Stamp: stampOf(t, hello), Env: envBlock("QUERY_STRING=after")}, &res); err != nil {
			t.Fatal(err)
		}
		if want := "Content-Type: text/plain\n\nhello after [] __main__\n"; string(res.Stdout) != want || res.TimedOut {
			t.Errorf("next request: stdout %q (timed out %v), want %q", res.Stdout, res.TimedOut, want)
		}
		if err := res.Err(); err != nil {
			t.Errorf("next request: Err() = %v, want nil", err)
		}
	})
}

// TestTimeout: in a sub-interpreter too, the watchdog ends a runaway
// request, and the result says so as a flag and a typed error; the next
// request runs normally.
func TestTimeout(t *testing.T) {
	loop := script(t, "loop.py")
	hello := script(t, "hello.py")
	onThread2(t, InterpOptions{Timeout: 200 * time.Millisecond}, func(ip *Interp) {
		var res Result
		if err := ip.Exec(&Request{Path: loop, Stamp: stampOf(t, loop)}, &res); err != nil {
			t.Fatal(err)
		}
		err := res.Err()
		if !res.TimedOut || !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || err.Error() != res.Failure {
			t.Errorf("runaway script: timed out %v, Err() %v, failure %q", res.TimedOut, err, res.Failure)
		}
		if err := ip.Exec(&Request{Path: hello, Stamp: stampOf(t, hello), Env: envBlock("QUERY_STRING=after")}, &res); err != nil {
			t.Fatal(err)
		}
		if want := "Content-Type: text/plain\n\nhello after [] __main__\n"; string(res.Stdout) != want || res.TimedOut || res.Err() != nil {
			t.Errorf("next request: stdout %q (timed out %v, Err %v), want %q", res.Stdout, res.TimedOut, res.Err(), want)
		}
	})
}

// debianPython reports whether the linked Python is Debian's: its shared
// libpython under /usr/lib, or for a static build /usr/bin/python3.X.
func debianPython() bool {
	o := Origin()
	return strings.HasPrefix(o, "/usr/lib/") || strings.HasPrefix(o, "/usr/bin/")
}
