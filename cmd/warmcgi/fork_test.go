package main

// Fork mode (--isolation fork): each request runs in a fresh fork of a
// single-threaded template process. These are what only a real process
// per request gives; subinterp, main and process mode each get at least
// one of them wrong.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestForkSignals: a SIGALRM watchdog interrupts time.sleep at 0.3 s, as
// under mod_cgi (embedded, the sleep runs its whole 3 s).
func TestForkSignals(t *testing.T) {
	base, _ := startWarmcgi(t, testdataCGIBin(t), "--isolation", "fork", "-w", "1")
	client := &http.Client{Timeout: 30 * time.Second}
	for run := range 2 {
		start := time.Now()
		code, body, err := fetch(t, client, base+"cgi-bin/forkmode/alarm.py")
		took := time.Since(start)
		if err != nil || code != 200 || body != "watchdog fired after the sleep was interrupted\n" {
			t.Errorf("run %d: %d %v %q", run, code, err, body)
		}
		if took > 1500*time.Millisecond {
			t.Errorf("run %d took %v: the alarm did not interrupt the 3 s sleep", run, took)
		}
	}
}

// TestForkTimezone: TZ + time.tzset changes the script's local time zone,
// and the next request, forked from the same template, has the server's
// again.
func TestForkTimezone(t *testing.T) {
	base, _ := startWarmcgi(t, testdataCGIBin(t), "--isolation", "fork", "-w", "1")
	client := &http.Client{Timeout: 30 * time.Second}
	out, err := exec.Command("python3", "-c", "import time; print(time.timezone)").Output()
	if err != nil {
		t.Fatal(err)
	}
	serverZone := "timezone " + strings.TrimSpace(string(out)) + " "
	if strings.HasPrefix(serverZone, "timezone -32400 ") {
		t.Skip("this machine's zone is Tokyo's already")
	}
	for run := range 2 {
		code, body, err := fetch(t, client, base+"cgi-bin/forkmode/tz.py?set")
		if err != nil || code != 200 || body != "timezone -32400 tm_gmtoff 32400 tzname JST\n" {
			t.Errorf("run %d, with TZ set: %d %v %q", run, code, err, body)
		}
		code, body, err = fetch(t, client, base+"cgi-bin/forkmode/tz.py")
		if err != nil || code != 200 || !strings.HasPrefix(body, serverZone) {
			t.Errorf("run %d, the next request: %d %v %q, want the server's zone (%q)", run, code, err, body, serverZone)
		}
	}
}

// TestForkFaults: os.fork works; os._exit, a segfault and a 200 MiB leak
// cost only their own request; the next request is answered from a
// pristine fork.
func TestForkFaults(t *testing.T) {
	base, logs := startWarmcgi(t, testdataCGIBin(t), "--isolation", "fork", "-w", "1")
	client := &http.Client{Timeout: 30 * time.Second}
	cases := []struct {
		path string
		code int
		body string
	}{
		{"proc/fork.py", 200, "child is another process: True\nparent saw exit 7\n"},
		{"forkmode/exit3.py", 500, ""},
		{"faults/segv.py", 502, ""},
		{"forkmode/leak.py", 200, "leaks seen 1\n"},
		{"forkmode/leak.py", 200, "leaks seen 1\n"},
	}
	for _, c := range cases {
		code, body, err := fetch(t, client, base+"cgi-bin/"+c.path)
		if err != nil || code != c.code || (c.body != "" && body != c.body) {
			t.Errorf("%s: %d %v %q, want %d %q", c.path, code, err, body, c.code, c.body)
		}
		code, body, err = fetch(t, client, base+"cgi-bin/hello.py")
		if err != nil || code != 200 || body != "Hello, world!\n" {
			t.Errorf("after %s: hello.py %d %v %q", c.path, code, err, body)
		}
	}
	if !strings.Contains(logs(), "SIGSEGV") {
		t.Errorf("the segfault was not logged:\n%s", logs())
	}
}

// TestForkTimeoutKillsGroup: at --timeout the script's whole process
// group goes, the child it started included.
func TestForkTimeoutKillsGroup(t *testing.T) {
	// The server may run as --user www-data: a directory it can write.
	dir, err := os.MkdirTemp("", "warmcgi-fork-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	pidFile := filepath.Join(dir, "pid")
	base, _ := startWarmcgi(t, testdataCGIBin(t), "--isolation", "fork", "-w", "1", "--timeout", "1s")
	client := &http.Client{Timeout: 30 * time.Second}
	start := time.Now()
	code, body, err := fetch(t, client, base+"cgi-bin/forkmode/sleeper.py?"+pidFile)
	if err != nil || code != 504 {
		t.Fatalf("sleeper.py: %d %v %q, want 504", code, err, body)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the timeout took %v", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Gone, or a zombie waiting for init.
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the script's child (pid %d, sleep 1000) outlived the timeout: %s", pid, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body, err := fetch(t, client, base+"cgi-bin/hello.py"); err != nil || code != 200 || body != "Hello, world!\n" {
		t.Errorf("after the timeout: hello.py %d %v %q", code, err, body)
	}
}

// TestForkTemplateLife: SIGHUP replaces the template (a script's parent)
// while requests go on, and a template that dies is replaced at the next
// request.
func TestForkTemplateLife(t *testing.T) {
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "fork", "-w", "2")
	client := &http.Client{Timeout: 30 * time.Second}
	parent := func() int {
		t.Helper()
		code, body, err := fetch(t, client, p.url+"cgi-bin/forkmode/ppid.py")
		pid, perr := strconv.Atoi(strings.TrimSpace(body))
		if err != nil || code != 200 || perr != nil {
			t.Fatalf("ppid.py: %d %v %q", code, err, body)
		}
		return pid
	}
	first := parent()
	if again := parent(); again != first {
		t.Fatalf("two requests forked from %d and %d: want one template", first, again)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	second := parent()
	for second == first && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		second = parent()
	}
	if second == first {
		t.Fatalf("after SIGHUP requests still fork from template %d", first)
	}
	// The old template goes once its children are done.
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(first)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replaced template %d is still running", first)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A template that dies is replaced; the requests after it are answered.
	if err := syscall.Kill(second, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	third := parent()
	if third == second {
		t.Fatalf("the killed template %d still answers", second)
	}
	if !strings.Contains(p.stderr.String(), "fork template died") {
		t.Errorf("the template's death was not logged:\n%s", p.stderr.String())
	}
}

// TestForkLearnedImports: a library module a script imports is imported,
// after that script's first request, by a sub-template that forks the
// script's later requests; a script that imports nothing more still forks
// from the lean template and does not see the module (as under CGI); what
// was learned outlives the template (SIGHUP).
func TestForkLearnedImports(t *testing.T) {
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "fork", "-w", "1")
	get := getter(t, p.url)
	// The sub-template imports in the background: until it is ready, the
	// script's requests fork from the template and import for themselves.
	learned := func(when string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			b := get("forkmode/learn.py")
			if b == "had xmlrpc: True True\n" {
				return
			}
			if b != "had xmlrpc: False True\n" {
				t.Fatalf("%s: %q", when, b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the module was not learned", when)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if b := get("forkmode/learn.py"); b != "had xmlrpc: False True\n" {
		t.Fatalf("first request: %q, want a process without xmlrpc", b)
	}
	learned("after the first request")
	template := get("forkmode/ppid.py")
	if b := get("forkmode/noxmlrpc.py"); b != "xmlrpc loaded: False\n" {
		t.Errorf("a script that does not import it: %q, want a process without it", b)
	}
	// Another script with the same imports: it too forks from a
	// sub-template once learned, not from the template.
	for deadline := time.Now().Add(20 * time.Second); get("forkmode/learnppid.py") == template; {
		if time.Now().After(deadline) {
			t.Fatalf("learnppid.py still forks from the template %s, want a sub-template", template)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for get("forkmode/ppid.py") == template {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not replace the template")
		}
		time.Sleep(50 * time.Millisecond)
	}
	learned("after SIGHUP")
}

// TestForkLearnedImportStartsThread: a learned module that starts a
// thread when imported ends the sub-template that imported it (a template
// forks with one thread only); the next one leaves it to the script,
// which keeps being answered.
func TestForkLearnedImportStartsThread(t *testing.T) {
	if pythonMajorMinor() != debianPythonVersion(t) {
		t.Skip("installs a module in Debian's python3's /usr/local dist-packages")
	}
	lib := "/usr/local/lib/python" + pythonMajorMinor() + "/dist-packages"
	mod := filepath.Join(lib, "warmcgi_test_thread_at_import.py")
	src := "import threading, time\ntime.sleep(0.5)\nthreading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\nstarted = True\n"
	if err := os.WriteFile(mod, []byte(src), 0o644); err != nil {
		t.Skipf("cannot install a module in %s: %v", lib, err)
	}
	t.Cleanup(func() { os.Remove(mod) })
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "fork", "-w", "1")
	client := &http.Client{Timeout: 30 * time.Second}
	for run := range 6 {
		code, body, err := fetch(t, client, p.url+"cgi-bin/forkmode/threaded_import.py")
		if err != nil || code != 200 || body != "thread started: True\n" {
			t.Errorf("run %d: %d %v %q", run, code, err, body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, "importing warmcgi_test_thread_at_import started a thread") {
		t.Errorf("the template did not refuse the module:\n%s", logs)
	}
	if n := strings.Count(logs, "started a thread"); n != 1 {
		t.Errorf("the module was imported into %d templates, want 1 (then denied)", n)
	}
}

// TestForkLearnedImportWarns: library modules whose import warns are
// learned like any other (a sub-template forks the scripts' requests), and
// each script still gets the import warnings a new process would print,
// through its own filters (testdata/cgi-bin/forkmode/warnfirst.py and
// warnlib.py share one sub-template, which imported the library):
// sre_parse's DeprecationWarning at warnfirst.py's own import line, at the
// library's line for warnlib.py (which shows all warnings), once a
// request each.
func TestForkLearnedImportWarns(t *testing.T) {
	if pythonMajorMinor() != debianPythonVersion(t) {
		t.Skip("installs a module in Debian's python3's /usr/local dist-packages")
	}
	lib := "/usr/local/lib/python" + pythonMajorMinor() + "/dist-packages"
	mod := filepath.Join(lib, "warmcgi_test_imports_sre_parse.py")
	// The library notes the pid of each process that runs its code: a
	// sub-template that imported it, or a child that imports it itself.
	// (The scripts run as another user: a file anyone may append to.)
	f, err := os.CreateTemp("", "warmcgi-imported-in-")
	if err != nil {
		t.Fatal(err)
	}
	ran := f.Name()
	f.Close()
	t.Cleanup(func() { os.Remove(ran) })
	if err := os.Chmod(ran, 0o666); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("import sre_parse  # noqa: F401\nimport os\nwith open(%q, \"a\") as f:\n    f.write(\"%%d\\n\" %% os.getpid())\n", ran)
	if err := os.WriteFile(mod, []byte(src), 0o644); err != nil {
		t.Skipf("cannot install a module in %s: %v", lib, err)
	}
	t.Cleanup(func() { os.Remove(mod) })
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "fork", "-w", "1")
	get0 := getter(t, p.url)
	template := strings.TrimSpace(get0("forkmode/ppid.py"))
	runs := map[string]int{}
	get := func(script string) (parent string) {
		t.Helper()
		runs[script]++
		f := strings.Fields(get0("forkmode/" + script))
		if len(f) != 2 || f[0] != "parent:" {
			t.Fatalf("%s: %q", script, f)
		}
		return f[1]
	}
	for _, script := range []string{"warnfirst.py", "warnlib.py"} {
		for deadline := time.Now().Add(20 * time.Second); get(script) == template; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still forks from the template %s: its modules were not learned", script, template)
			}
		}
		for range 2 {
			parent := get(script)
			if parent == template {
				t.Fatalf("%s forked from the template again", script)
			}
			// Its parent, the sub-template, imported the library.
			if b, err := os.ReadFile(ran); err != nil || !slices.Contains(strings.Fields(string(b)), parent) {
				t.Fatalf("%s forked from %s, which did not import the library (imported in: %q %v)", script, parent, b, err)
			}
		}
	}
	const warning = ": DeprecationWarning: module 'sre_parse' is deprecated"
	want := map[string]int{
		"warnfirst.py:8" + warning:                      runs["warnfirst.py"],
		"warmcgi_test_imports_sre_parse.py:1" + warning: runs["warnlib.py"],
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		logs, ok := p.stderr.String(), true
		for w, n := range want {
			ok = ok && strings.Count(logs, w) == n
		}
		if ok && strings.Count(logs, warning) == runs["warnfirst.py"]+runs["warnlib.py"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want the warning %v times each, one per request:\n%s", want, logs)
		}
	}
}

// TestForkSubTemplateDies: a sub-template that dies (killed here) takes no
// request with it: its scripts fork from the template meanwhile and get a
// new sub-template; the death is logged.
func TestForkSubTemplateDies(t *testing.T) {
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "fork", "-w", "2")
	client := &http.Client{Timeout: 30 * time.Second}
	get0 := getter(t, p.url)
	get := func(path string) string { return strings.TrimSpace(get0(path)) }
	template := get("forkmode/ppid.py")
	subOf := func() string {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if pid := get("forkmode/learnppid.py"); pid != template {
				return pid
			}
			if time.Now().After(deadline) {
				t.Fatal("learnppid.py never forked from a sub-template")
			}
		}
	}
	sub := subOf()
	pid, err := strconv.Atoi(sub)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body, err := fetch(t, client, p.url+"cgi-bin/forkmode/learnppid.py"); err != nil || code != 200 {
				t.Errorf("while its sub-template died: %d %v %q", code, err, body)
			}
		}()
	}
	wg.Wait()
	if again := subOf(); again == sub || again == template {
		t.Errorf("after its sub-template %s died, learnppid.py forks from %s, want a new sub-template", sub, again)
	}
	if !strings.Contains(p.stderr.String(), "sub-template (pid "+sub+") died") {
		t.Errorf("the death was not logged:\n%s", p.stderr.String())
	}
}

// getter returns a function that GETs a script under base's cgi-bin and
// fails the test unless it answers 200; it returns the body.
func getter(t *testing.T, base string) func(path string) string {
	client := &http.Client{Timeout: 30 * time.Second}
	return func(path string) string {
		t.Helper()
		code, body, err := fetch(t, client, base+"cgi-bin/"+path)
		if err != nil || code != 200 {
			t.Fatalf("%s: %d %v %q", path, code, err, body)
		}
		return body
	}
}
