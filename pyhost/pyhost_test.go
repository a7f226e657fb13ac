//go:build cgo

package pyhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

// onThread runs fn on a fresh goroutine locked to its own OS thread, as
// interp workers do, with an interpreter created there.
func onThread(t *testing.T, fn func(ip *Interp)) {
	t.Helper()
	onThread2(t, InterpOptions{}, fn)
}

// onThread2 is onThread with interpreter options (OwnGIL is set when
// supported).
func onThread2(t *testing.T, opts InterpOptions, fn func(ip *Interp)) {
	t.Helper()
	opts.OwnGIL = OwnGILSupported()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ip, err := NewInterp(opts)
		if err != nil {
			t.Error(err)
			return
		}
		defer ip.Close()
		fn(ip)
	}()
	<-done
}

func stampOf(t testing.TB, path string) [4]int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return [4]int64{st.Mtim.Nano(), st.Size, int64(st.Ino), int64(st.Dev)}
}

func envBlock(kv ...string) []byte {
	var b []byte
	for _, s := range kv {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

func script(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecHello(t *testing.T) {
	path := script(t, "hello.py")
	onThread(t, func(ip *Interp) {
		var res Result
		for i, q := range []string{"a=1", "b=2", "c"} {
			req := &Request{Path: path, Stamp: stampOf(t, path), Env: envBlock("QUERY_STRING=" + q), Args: envBlock("w" + q)}
			if err := ip.Exec(req, &res); err != nil {
				t.Fatal(err)
			}
			want := "Content-Type: text/plain\n\nhello " + q + " ['w" + q + "'] __main__\n"
			if string(res.Stdout) != want {
				t.Errorf("request %d: stdout %q, want %q (stderr %q)", i, res.Stdout, want, res.Stderr)
			}
		}
	})
}

type execCase struct {
	name     string
	script   string
	query    string
	body     string
	env      []string
	stdout   string // exact, when set
	contains []string
	stderr   []string // substrings of stderr
	exit     int
	failure  string // prefix of Result.Failure
}

// testUmask is the test process's umask, which every request must find.
var testUmask = func() int { m := syscall.Umask(0); syscall.Umask(m); return m }()

var execCases = []execCase{
	{name: "stash buffer at import", script: "stash.py", query: "q1", stdout: "Content-Type: text/plain\n\nstashed q1\n"},
	{name: "stash buffer again", script: "stash.py", query: "q2", stdout: "Content-Type: text/plain\n\nstashed q2\n"},
	{name: "environ identity and no leak", script: "environ.py", query: "e1",
		stdout: "Content-Type: text/plain\n\nTrue e1 None b'e1' C.UTF-8\n"},
	{name: "environ second request", script: "environ.py", query: "e2",
		stdout: "Content-Type: text/plain\n\nTrue e2 None b'e2' C.UTF-8\n"},
	{name: "exception after headers", script: "raise.py",
		stdout: "Content-Type: text/plain\n\npartial\n",
		stderr: []string{"Traceback (most recent call last):", "raise.py\", line 5, in <module>", "ValueError: boom in script"},
		exit:   1, failure: "ValueError: boom in script"},
	{name: "sys.exit(3)", script: "exit.py", query: "3", stdout: "Content-Type: text/plain\n\n", exit: 3, failure: "SystemExit: 3"},
	{name: "sys.exit()", script: "exit.py", query: "none", stdout: "Content-Type: text/plain\n\n"},
	{name: "sys.exit(0)", script: "exit.py", query: "0", stdout: "Content-Type: text/plain\n\n"},
	{name: "sys.exit(message)", script: "exit.py", query: "msg", stdout: "Content-Type: text/plain\n\n",
		stderr: []string{"bye message\n"}, exit: 1, failure: "SystemExit: bye message"},
	{name: "syntax error", script: "syntax.py", stdout: "",
		stderr: []string{"syntax.py\", line 1", "SyntaxError: Missing parentheses"}, exit: 1, failure: "SyntaxError"},
	{name: "umask put back", script: "umask.py", stdout: fmt.Sprintf("Content-Type: text/plain\n\nfound %04o\n", testUmask)},
	{name: "posix.umask put back", script: "umask.py", query: "posix", stdout: fmt.Sprintf("Content-Type: text/plain\n\nfound %04o\n", testUmask)},
	{name: "coding cookie", script: "latin1.py", stdout: "Content-Type: text/plain\n\ncaf\u00e9\n"},
	{name: "utf-8 BOM", script: "bom.py", stdout: "Content-Type: text/plain\n\nbom ok\n"},
	{name: "TextIOWrapper over buffer", script: "rewrap.py", query: "wrapper", stdout: "Content-Type: text/plain\n\nmode wrapper \xe9\n"},
	{name: "codecs writer over detach", script: "rewrap.py", query: "codecs", stdout: "Content-Type: text/plain\n\nmode codecs \u00e9\n"},
	{name: "reconfigure", script: "rewrap.py", query: "reconfigure", stdout: "Content-Type: text/plain\n\nmode reconfigure \xe9\n"},
	{name: "plain after rewraps", script: "rewrap.py", query: "plain", stdout: "Content-Type: text/plain\n\nmode plain \u00e9\n"},
	{name: "__main__ module", script: "main.py",
		stdout: "Content-Type: text/plain\n\nTrue Thing ['__annotations__', '__builtins__', '__cached__', '__doc__', '__file__', '__loader__', '__name__', '__package__', '__spec__'] True\n"},
	{name: "stdin binary then text, exit()", script: "stdin.py", body: "abcdef\nghi",
		stdout: "Content-Type: text/plain\n\n0 b'abc' def\nghi ''\n"},
	{name: "excepthook replaced by script", script: "excepthook.py",
		stdout: "Content-Type: text/html\n\n<p>hooked KeyError: 'k'</p>\n", exit: 1, failure: "KeyError"},
	{name: "os._exit loses unflushed output", script: "osexit.py", stdout: "Content-Type: text/plain\n\nflushed\n",
		exit: 3, failure: "os._exit(3)"},
	{name: "os.abort", script: "abort.py", stdout: "Content-Type: text/plain\n\n", exit: 134, failure: "os.abort()"},
	{name: "os.kill of its own pid", script: "killself.py", stdout: "Content-Type: text/plain\n\n", exit: 143,
		failure: "killed by SIGTERM"},
	{name: "SIGALRM handler", script: "alarm.py", query: "handler",
		stdout: "Content-Type: text/plain\n\nold handler default: True\ntimed out: too slow\nleft: 0\n"},
	{name: "SIGALRM default kills the request", script: "alarm.py", query: "default",
		stdout: "Content-Type: text/plain\n\nwaiting\n", exit: 142, failure: "killed by SIGALRM"},
	{name: "fork refused", script: "fork.py", stdout: "Content-Type: text/plain\n\nrefused: True\n"},
	{name: "children write into the response", script: "child.py", query: "q=1", body: "body for cat",
		stdout: "Content-Type: text/plain\n\nsystem q=1\npopen GET\nbody for cat\nrc 7\nstatus 3\n"},
	{name: "os.exec runs as the rest of the response", script: "execv.py", query: "x",
		stdout: "Content-Type: text/plain\n\nexec x\n", failure: "os.exec* of"},
	{name: "raw fds 0, 1, 2", script: "rawfd.py", body: "in",
		stdout: "Content-Type: text/plain\n\nraw write\nvia open(1)\nbody: b'in'\nback on stdout\nfile got: into the file\n",
		stderr: []string{"to stderr while redirected\nraw to stderr\n"}},
	{name: "state a request leaves", script: "state.py", stdout: "Content-Type: text/plain\n\nmain done\nthread done\natexit ran\n"},
	{name: "state is reset", script: "statecheck.py", stdout: "Content-Type: text/plain\n\nTrue 0 0 30 False True None False\n"},
	{name: "builtins replaced, deleted, added", script: "builtinsmod.py", query: "change",
		stdout: "Content-Type: text/plain\n\nchanged 42\n"},
	{name: "builtins restored", script: "builtinsmod.py", query: "check",
		stdout: "Content-Type: text/plain\n\nlen 2 input True added False\n"},
	{name: "excepthook restored", script: "raise.py", stdout: "Content-Type: text/plain\n\npartial\n",
		stderr: []string{"ValueError: boom in script"}, exit: 1, failure: "ValueError"},
}

// isolationModes are the in-process modes every exec case must pass in.
var isolationModes = []struct {
	name string
	opts InterpOptions
}{
	{"subinterp", InterpOptions{}},
	{"main", InterpOptions{Main: true}},
}

// TestExecCases runs every case three times over in one interpreter, in
// each isolation mode: the bugs of a persistent host show on the second
// request, not the first.
func TestExecCases(t *testing.T) {
	for _, mode := range isolationModes {
		t.Run(mode.name, func(t *testing.T) { testExecCases(t, mode.opts) })
	}
}

func testExecCases(t *testing.T, opts InterpOptions) {
	// Subtests run on goroutines of their own, so the requests run first, on
	// the interpreter's thread, and the checks after.
	type outcome struct {
		res Result
		err error
	}
	const rounds = 3
	got := make([]outcome, rounds*len(execCases))
	tmp := t.TempDir()
	onThread2(t, opts, func(ip *Interp) {
		for i := range got {
			c := execCases[i%len(execCases)]
			path := script(t, c.script)
			req := &Request{Path: path, Stamp: stampOf(t, path),
				Env:  envBlock(append([]string{"QUERY_STRING=" + c.query, "REQUEST_METHOD=GET", "PATH=/usr/bin:/bin", "TMPDIR=" + tmp}, c.env...)...),
				Body: []byte(c.body)}
			got[i].err = ip.Exec(req, &got[i].res)
		}
	})
	for i, o := range got {
		c := execCases[i%len(execCases)]
		t.Run(fmt.Sprintf("%s/round=%d", c.name, i/len(execCases)), func(t *testing.T) {
			if o.err != nil {
				t.Fatal(o.err)
			}
			res := o.res
			want := c.stdout
			var major, minor int
			if fmt.Sscanf(Version(), "%d.%d", &major, &minor); major == 3 && minor >= 14 {
				// PEP 649: 3.14's __main__ has no __annotations__ until one is made.
				want = strings.Replace(want, "'__annotations__', ", "", 1)
			}
			if string(res.Stdout) != want {
				t.Errorf("stdout %q, want %q (stderr %q)", res.Stdout, want, res.Stderr)
			}
			for _, s := range c.stderr {
				if !strings.Contains(string(res.Stderr), s) {
					t.Errorf("stderr %q lacks %q", res.Stderr, s)
				}
			}
			if c.stderr == nil && len(res.Stderr) > 0 {
				t.Errorf("unexpected stderr %q", res.Stderr)
			}
			if res.ExitCode != c.exit {
				t.Errorf("exit code %d, want %d", res.ExitCode, c.exit)
			}
			if !strings.HasPrefix(res.Failure, c.failure) || (c.failure == "") != (res.Failure == "") {
				t.Errorf("failure %q, want prefix %q", res.Failure, c.failure)
			}
		})
	}
	// state.py opened a file and never closed it: it was flushed and closed
	// at the end of each request, as at a CGI process's exit (68).
	if b, err := os.ReadFile(filepath.Join(tmp, "warmcgi-state.log")); err != nil || string(b) != strings.Repeat("line\n", rounds) {
		t.Errorf("file left open by state.py: %q, %v; want %d lines", b, err, rounds)
	}
	if v, ok := os.LookupEnv("PUTENV_LEAK"); ok {
		t.Errorf("os.putenv reached the process environment: PUTENV_LEAK=%q", v)
	}
	if v, ok := os.LookupEnv("STALE"); ok {
		t.Errorf("os.environ write reached the process environment: STALE=%q", v)
	}
}

// TestReloadOnChange: a changed file is recompiled; an unchanged one is not.
func TestReloadOnChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.py")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	onThread(t, func(ip *Interp) {
		run := func(wantCompiled Compile) string {
			t.Helper()
			var res Result
			if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); err != nil {
				t.Fatal(err)
			}
			if res.Compiled != wantCompiled {
				t.Errorf("Compiled = %d, want %d", res.Compiled, wantCompiled)
			}
			return string(res.Stdout)
		}
		write("print('one')\n")
		if got := run(CompileFirst); got != "one\n" {
			t.Fatalf("first version printed %q", got)
		}
		if got := run(CompileNone); got != "one\n" {
			t.Fatalf("second run printed %q", got)
		}
		write("print('two!')\n") // a different size, so the stamp changes even within one mtime tick
		if got := run(CompileReload); got != "two!\n" {
			t.Fatalf("after an edit printed %q, want the new version", got)
		}
	})
}

// TestOwnerThread: an interp runs its requests on the thread that created
// it, starts each in the script's directory and gives the thread back in
// the server's. Exec and Close from any other thread fail with
// ErrWrongThread, loudly and without touching the result, and the interp
// goes on serving its owner; the owner closes it. Main-mode interps follow
// the same rule.
func TestOwnerThread(t *testing.T) {
	path := script(t, "where.py")
	serverDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		opts InterpOptions
	}{{"subinterp", InterpOptions{Chdir: true}}, {"main", mainOptions}} {
		t.Run(mode.name, func(t *testing.T) {
			onThread2(t, mode.opts, func(ip *Interp) {
				owner := ""
				run := func(what string) {
					var res Result
					if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
					if len(lines) != 4 {
						t.Fatalf("%s printed %q", what, res.Stdout)
					}
					if mode.opts.Chdir && lines[2] != filepath.Dir(path) {
						t.Errorf("%s ran in %s; want the script's directory %s", what, lines[2], filepath.Dir(path))
					}
					if owner != "" && lines[3] != owner {
						t.Errorf("%s ran on thread %s, the owner is %s", what, lines[3], owner)
					}
					owner = lines[3]
					if cwd, _ := os.Getwd(); cwd != serverDir {
						t.Errorf("%s left its thread in %s, want %s", what, cwd, serverDir)
					}
				}
				run("the first request")
				for i := 0; i < 4; i++ {
					c := make(chan string)
					go func() {
						runtime.LockOSThread() // a thread of its own, which ends with the goroutine
						res := Result{Stdout: []byte("untouched")}
						var bad []string
						if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); !errors.Is(err, ErrWrongThread) {
							bad = append(bad, fmt.Sprintf("Exec: %v, want ErrWrongThread", err))
						}
						if string(res.Stdout) != "untouched" || res.ExitCode != 0 {
							bad = append(bad, fmt.Sprintf("Exec changed the result: stdout %q", res.Stdout))
						}
						if err := ip.Close(); !errors.Is(err, ErrWrongThread) {
							bad = append(bad, fmt.Sprintf("Close: %v, want ErrWrongThread", err))
						}
						c <- strings.Join(bad, "; ")
					}()
					if msg := <-c; msg != "" {
						t.Errorf("from another thread (%d): %s", i, msg)
					}
				}
				run("a request after the refused calls")
			})
		})
	}
}

func TestMain(m *testing.M) {
	if err := Init(Config{}); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestShebangFlags: -O/-OO compile the script without asserts (and
// docstrings); the flags are part of the code cache key.
func TestShebangFlags(t *testing.T) {
	path := script(t, filepath.Join("..", "..", "testdata", "cgi-bin", "optimized.py"))
	outs := make([]string, 3)
	onThread(t, func(ip *Interp) {
		for i, opt := range []int{2, 0, 1} {
			var res Result
			if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path), Optimize: opt}, &res); err != nil {
				t.Error(err)
				return
			}
			outs[i] = string(res.Stdout)
		}
	})
	want := []string{
		"Content-Type: text/plain\n\nasserts compiled out\n__debug__: False\ndocstring: None\n",
		"Content-Type: text/plain\n\nassert raised: asserts are on\n__debug__: True\ndocstring: A module docstring that -OO strips.\n",
		"Content-Type: text/plain\n\nasserts compiled out\n__debug__: False\ndocstring: A module docstring that -OO strips.\n",
	}
	for i := range want {
		if outs[i] != want[i] {
			t.Errorf("run %d: %q, want %q", i, outs[i], want[i])
		}
	}
}

// TestKeepModules: with KeepModules a helper module is imported once, and
// the file and logging handler it set up keep working across requests.
func TestKeepModules(t *testing.T) {
	tmp := t.TempDir()
	path := script(t, "keeplog.py")
	outs := make([]string, 3)
	onThread2(t, InterpOptions{KeepModules: true}, func(ip *Interp) {
		for i := range outs {
			var res Result
			if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path), Env: envBlock("TMPDIR=" + tmp)}, &res); err != nil {
				t.Error(err)
				return
			}
			outs[i] = string(res.Stdout) + string(res.Stderr)
		}
	})
	for i, out := range outs {
		if out != "Content-Type: text/plain\n\n1 1\n" {
			t.Errorf("request %d: %q", i, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(tmp, "keeplog.txt"))
	if err != nil || string(b) != strings.Repeat("request\nlogged\n", 3) {
		t.Errorf("log file %q, %v", b, err)
	}
}

// TestStream: flushed output goes to the Stream function while the script
// runs; what it kept stays in Stdout; a client that left makes the next
// flush raise BrokenPipeError in the script (COMPAT 28, 42).
func TestStream(t *testing.T) {
	path := script(t, "progress.py")
	tests := []struct {
		name    string
		answers []cgienv.StreamAnswer // one per call, the last repeats
		chunks  []string
		stdout  string
		stderr  string
	}{
		{"sent", []cgienv.StreamAnswer{cgienv.StreamSent},
			[]string{"Content-Type: text/plain\n\nstep 1\n", "step 2\n", "step 3\n"}, "tail\n", ""},
		{"kept until headers are wanted", []cgienv.StreamAnswer{cgienv.StreamKeep, cgienv.StreamSent},
			[]string{"Content-Type: text/plain\n\nstep 1\n", "Content-Type: text/plain\n\nstep 1\nstep 2\n", "step 3\n"}, "tail\n", ""},
		{"declined", []cgienv.StreamAnswer{cgienv.StreamDecline},
			[]string{"Content-Type: text/plain\n\nstep 1\n"}, "Content-Type: text/plain\n\nstep 1\nstep 2\nstep 3\ntail\n", ""},
		{"client gone", []cgienv.StreamAnswer{cgienv.StreamSent, cgienv.StreamSent, cgienv.StreamGone},
			[]string{"Content-Type: text/plain\n\nstep 1\n", "step 2\n", "step 3\n"}, "", "client gone\n"},
	}
	for _, mode := range isolationModes {
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				testStream(t, mode.opts, path, tt.answers, tt.chunks, tt.stdout, tt.stderr)
			})
		}
	}
}

func testStream(t *testing.T, opts InterpOptions, path string, answers []cgienv.StreamAnswer, wantChunks []string, stdout, stderr string) {
	var chunks []string
	var res Result
	var err error
	onThread2(t, opts, func(ip *Interp) {
		stream := func(b []byte) cgienv.StreamAnswer {
			chunks = append(chunks, string(b))
			return answers[min(len(chunks), len(answers))-1]
		}
		err = ip.Exec(&Request{Path: path, Stamp: stampOf(t, path), Stream: stream}, &res)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(chunks) != fmt.Sprint(wantChunks) {
		t.Errorf("chunks %q, want %q", chunks, wantChunks)
	}
	if string(res.Stdout) != stdout || string(res.Stderr) != stderr {
		t.Errorf("stdout %q stderr %q, want %q %q", res.Stdout, res.Stderr, stdout, stderr)
	}
}

// TestCGIEscape: cgi.escape exists only when asked for, with the behaviour
// it had until Python 3.7 (COMPAT 93).
func TestCGIEscape(t *testing.T) {
	path := script(t, "escape.py")
	for _, on := range []bool{false, true} {
		var res Result
		onThread2(t, InterpOptions{CGIEscape: on}, func(ip *Interp) {
			if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); err != nil {
				t.Error(err)
			}
		})
		want := "Content-Type: text/plain\n\n&lt;a href=\"x\"&gt;&amp;&lt;/a&gt; &quot;q&quot;\n"
		if !on {
			want = "Content-Type: text/plain\n\n"
		}
		if string(res.Stdout) != want {
			t.Errorf("CGIEscape=%v: stdout %q, want %q (stderr %q)", on, res.Stdout, want, res.Stderr)
		}
		if !on && !strings.Contains(string(res.Stderr), "has no attribute 'escape'") {
			t.Errorf("without the flag: stderr %q, want an AttributeError", res.Stderr)
		}
	}
}

// TestEnvironEachRequest: a script sees exactly its request's environment,
// request after request in one interpreter, where the names and values of
// earlier requests are reused (pyhost.c, env_dict): the same names with
// other values, more names than the cache has slots, values too long to
// keep, a value moving to another name, an empty value.
func TestEnvironEachRequest(t *testing.T) {
	path := script(t, "envdump.py")
	long := strings.Repeat("v", 5000)
	var many []string
	for i := 0; i < 300; i++ {
		many = append(many, fmt.Sprintf("N%d=value-%d", i, i%7))
	}
	envs := [][]string{
		append([]string{"QUERY_STRING=a=1", "HTTP_HOST=h1", "LONG=" + long}, many...),
		append([]string{"QUERY_STRING=a=2", "HTTP_HOST=h1", "LONG=" + long + "x"}, many[:150]...),
		{"QUERY_STRING=a=1", "HTTP_HOST=", "OTHER=h1", "LONG=short"},
		append([]string{"QUERY_STRING=", "HTTP_HOST=h2"}, many[100:]...),
		{"QUERY_STRING=a=1", "HTTP_HOST=h1"},
	}
	onThread(t, func(ip *Interp) {
		var res Result
		for round := 0; round < 2; round++ {
			for i, env := range envs {
				req := &Request{Path: path, Stamp: stampOf(t, path), Env: envBlock(env...)}
				if err := ip.Exec(req, &res); err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, kv := range env {
					k, v, _ := strings.Cut(kv, "=")
					want = append(want, fmt.Sprintf("%x %x", k, v))
				}
				sort.Strings(want)
				got := strings.TrimPrefix(string(res.Stdout), "Content-Type: text/plain\n\n")
				if got != strings.Join(want, "\n")+"\n" {
					t.Errorf("round %d, request %d: the script saw another environment (stderr %q)", round, i, res.Stderr)
				}
			}
		}
	})
}

// TestSettings: the options reach the runtime as its settings: a module
// named in Preload is imported when the interpreter is made (and one that
// does not import fails the creation), and the timeout is a float.
func TestSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.py")
	src := "import sys, _warmcgi\nprint('Content-Type: text/plain')\nprint()\n" +
		"print('colorsys' in sys.modules, _warmcgi._PRELOAD, _warmcgi._TIMEOUT, _warmcgi._MODULES, _warmcgi._GLOBALS, sorted(_warmcgi._PYLIB))\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	onThread2(t, InterpOptions{Preload: []string{"colorsys"}, Timeout: 1500 * time.Millisecond, KeepGlobals: true}, func(ip *Interp) {
		var res Result
		if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); err != nil {
			t.Fatal(err)
		}
		want := "Content-Type: text/plain\n\nTrue ['colorsys'] 1.5 purge keep ['cgi', 'cgitb']\n"
		if string(res.Stdout) != want {
			t.Errorf("stdout %q, want %q (stderr %q)", res.Stdout, want, res.Stderr)
		}
	})
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		ip, err := NewInterp(InterpOptions{Preload: []string{"no_such_module_here"}})
		if err == nil {
			ip.Close()
		}
		done <- err
	}()
	if err := <-done; !errors.Is(err, ErrCreate) || !strings.Contains(err.Error(), "no_such_module_here") {
		t.Errorf("NewInterp preloading a missing module: %v, want ErrCreate naming it", err)
	}
}

// TestModuleStateRounds: what a request rebinds, adds or deletes in
// loaded modules is put back in every request, however often one module
// is written (a watched dict is watched again after each request); a
// module written before an import that binds a submodule in it gets the
// write put back and keeps the binding.
// TestLearnedCaches: urllib.parse's _hextobyte, built by unquote on first
// use, is put back to None after the first two requests and then kept
// (modcache.c), while a private name rebound to other plain data each time,
// one rebound to a module, and a public name are put back every time.
func TestLearnedCaches(t *testing.T) {
	path := script(t, "lazycache.py")
	var table string
	onThread(t, func(ip *Interp) {
		for i := range 5 {
			var res Result
			req := &Request{Path: path, Stamp: stampOf(t, path), Env: envBlock("QUERY_STRING=round" + strconv.Itoa(i))}
			if err := ip.Exec(req, &res); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			got := string(res.Stdout)
			if len(res.Stderr) > 0 || !strings.Contains(got, "opener: None\ndb: None\naltsep: None\n") {
				t.Errorf("request %d: a rebound name was not put back:\n%s\nstderr %q", i, got, res.Stderr)
			}
			_, line, _ := strings.Cut(got, "hextobyte: ")
			line, _, _ = strings.Cut(line, "\n")
			switch {
			case i < 2 && line != "None":
				t.Errorf("request %d: hextobyte %s, want None (learned only once two requests built the same)", i, line)
			case i == 2 && !strings.HasPrefix(line, "built "):
				t.Errorf("request %d: hextobyte %s, want the table two requests built", i, line)
			case i == 2:
				table = line
			case i > 2 && line != table:
				t.Errorf("request %d: hextobyte %s, want the learned %s", i, line, table)
			}
		}
	})
}

func TestModuleStateRounds(t *testing.T) {
	path := script(t, "modstate.py")
	pristine := func(dom bool) string {
		return "Content-Type: text/plain\n\njson.dumps: original\njson.extra: None\nos.modstate_flag: None\n" +
			"string.capwords: True\nxml.modstate_before: None\nxml.dom.minidom: " + map[bool]string{false: "False", true: "True"}[dom] + "\n"
	}
	rounds := []struct {
		query string
		want  string
	}{
		{"write", pristine(false)},
		{"write", pristine(false)},
		{"write", pristine(false)},
		{"import", pristine(false)},
		{"write", pristine(true)},
		{"", pristine(true)},
	}
	onThread(t, func(ip *Interp) {
		for i, r := range rounds {
			var res Result
			req := &Request{Path: path, Stamp: stampOf(t, path), Env: envBlock("QUERY_STRING=" + r.query)}
			if err := ip.Exec(req, &res); err != nil {
				t.Errorf("request %d (%s): %v", i, r.query, err)
				return
			}
			if got := string(res.Stdout); got != r.want || len(res.Stderr) > 0 {
				t.Errorf("request %d (%s):\n%s\nstderr %q\nwant:\n%s", i, r.query, got, res.Stderr, r.want)
			}
		}
	})
}
