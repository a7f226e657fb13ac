package main

// --isolation auto (internal/backend/auto.go): scripts run in a
// sub-interpreter until they show they need more, then in auto's target
// mode; extension modules unsafe in sub-interpreters are refused there
// before their init runs (pyhost/runtime/extguard.py, pyhost/early.c).

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/pyhost"
)

// buildTestExtensions compiles testdata/ext/*.c (swiglike, multiphase)
// against the Python the binary links (pkg-config python3-embed) into a
// new directory the worker user can read, and returns it: the scripts
// under testdata/cgi-bin/ext find it in $SWIGLIKE_DIR.
func buildTestExtensions(t testing.TB) string {
	t.Helper()
	cflags, err := exec.Command("pkg-config", "--cflags", "python3-embed").Output()
	if err != nil {
		t.Fatalf("pkg-config --cflags python3-embed: %v", err)
	}
	dir, err := os.MkdirTemp("", "warmcgi-ext-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs(filepath.Join("..", "..", "testdata", "ext"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"swiglike", "multiphase"} {
		args := append([]string{"-shared", "-fPIC", "-o", filepath.Join(dir, name+".so")}, strings.Fields(string(cflags))...)
		args = append(args, filepath.Join(src, name+".c"))
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", name, err, out)
		}
	}
	return dir
}

// hammer sends path from clients×perClient goroutines for d and returns
// how many answers there were and the first few wrong ones (want: 200 and
// a body containing want).
func hammer(t testing.TB, base, path, want string, clients, perClient int, d time.Duration) (int, []string) {
	var mu sync.Mutex
	var wrong []string
	n := 0
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range clients {
		client := &http.Client{Timeout: 60 * time.Second}
		for range perClient {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					code, body, err := fetch(t, client, base+path)
					mu.Lock()
					n++
					if (err != nil || code != 200 || !strings.Contains(body, want)) && len(wrong) < 5 {
						wrong = append(wrong, fmt.Sprintf("%d %v %q", code, err, body))
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return n, wrong
}

// TestAutoUnsafeExtension is the fault bar for an extension module that is
// unsafe in sub-interpreters (testdata/ext/swiglike.c, built like SWIG
// bindings): under --isolation auto, 16 concurrent requests from 4 clients,
// with interpreters replaced every 5 requests (which is what turns the
// corruption into a SIGSEGV without auto: TestSubinterpUnsafeExtension),
// are all answered right and the server lives; the script is moved to
// process mode once, with its reason in the log, and a multi-phase module
// stays in its sub-interpreter.
func TestAutoUnsafeExtension(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load; skipped with -short")
	}
	ext := buildTestExtensions(t)
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "auto", "-w", "4", "--max-requests", "5",
		"--set-env", "SWIGLIKE_DIR="+ext)
	client := &http.Client{Timeout: 30 * time.Second}
	for range 3 {
		if code, body, err := fetch(t, client, p.url+"cgi-bin/ext/multiphase.py"); err != nil || code != 200 || body != "multiphase 42\n" {
			t.Fatalf("multiphase.py: %d %v %q", code, err, body)
		}
	}
	n, wrong := hammer(t, p.url, "cgi-bin/ext/swiglike.py", "swiglike ok\n", 4, 4, 4*time.Second)
	select {
	case <-p.exited:
		t.Fatalf("the server died under the load: %v", p.err)
	default:
	}
	if len(wrong) > 0 {
		t.Errorf("%d answers, some wrong: %q", n, wrong)
	}
	if n < 32 {
		t.Errorf("only %d answers in 4 s", n)
	}
	logs := p.stderr.String()
	moved := strings.Count(logs, `msg="isolation auto: script moved out of subinterp"`)
	if moved != 1 || !strings.Contains(logs, `script=`+filepath.Join(testdataCGIBin(t), "ext", "swiglike.py")+` mode=process reason="imports swiglike (single-phase init)"`) {
		t.Errorf("want one decision for swiglike.py (single-phase init), got %d:\n%s", moved, logs)
	}
	if code, body, err := fetch(t, client, p.url+"cgi-bin/ext/multiphase.py"); err != nil || code != 200 || body != "multiphase 42\n" {
		t.Errorf("multiphase.py after the load: %d %v %q", code, err, body)
	}
	t.Logf("%d requests of swiglike.py answered right", n)
}

// TestSubinterpUnsafeExtension shows what TestAutoUnsafeExtension guards
// against, in an explicit --isolation subinterp (which loads extension
// modules as before). On 3.11 the module's second interpreter uses the
// first's objects (its sys.modules), which answers wrong, and once the
// first interpreter is replaced, reads freed memory, which kills the
// server (measured: SIGSEGV within the first 30 requests). On 3.13 every
// request fails with CPython's ImportError (after the init ran in the
// server: TestSinglePhaseInitInServer).
func TestSubinterpUnsafeExtension(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load; skipped with -short")
	}
	ext := buildTestExtensions(t)
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "subinterp", "-w", "4", "--max-requests", "5",
		"--set-env", "SWIGLIKE_DIR="+ext)
	n, wrong := hammer(t, p.url, "cgi-bin/ext/swiglike.py", "swiglike ok\n", 4, 2, 3*time.Second)
	died := false
	select {
	case <-p.exited:
		died = true
	case <-time.After(200 * time.Millisecond):
	}
	if !died && len(wrong) == 0 {
		t.Fatalf("%d answers, all right, and the server lives: swiglike no longer shows the danger", n)
	}
	t.Logf("without auto: %d answers, wrong ones e.g. %q; server died: %v", n, wrong, died)
}

// TestHalfImportDropped: a script whose package import fails half way
// (testdata/cgi-bin/halfimport/halfpkg: lazy submodules, a helper, a
// failing one) leaves nothing behind, even where modules are kept
// (--modules keep): the next script's cgitb page in the same interpreter
// is whole (its inspect.getmodule would trip over a never-loaded lazy
// module whose load fails), and the first script gets its same error again.
func TestHalfImportDropped(t *testing.T) {
	base, _ := startWarmcgi(t, testdataCGIBin(t), "-w", "1", "--modules", "keep")
	client := &http.Client{Timeout: 30 * time.Second}
	const wantErr = "ImportError: halfpkg.cext: the C part of halfpkg cannot load here\n"
	for i := range 2 {
		if code, body, err := fetch(t, client, base+"cgi-bin/halfimport/importer.py"); err != nil || code != 200 || body != wantErr {
			t.Fatalf("importer.py (run %d): %d %v %q, want %q", i+1, code, err, body, wantErr)
		}
		code, body, err := fetch(t, client, base+"cgi-bin/halfimport/cgitb_page.py")
		if err != nil || code != 200 {
			t.Fatalf("cgitb_page.py: %d %v", code, err)
		}
		if !strings.Contains(body, "<p>modules: 0 halfpkg</p>") || !strings.Contains(body, "A problem occurred in a Python script") ||
			!strings.Contains(body, "cgitb page wanted") {
			t.Errorf("cgitb_page.py after a failed import (run %d): not cgitb's whole page:\n%s", i+1, body)
		}
	}
}

// TestLazyProbeKeepsModule: a standard library module loaded lazily
// (testdata/cgi-bin/halfimport/lazyprobe.py, LazyLoader as Mercurial's
// demandimport uses) whose first access probes a name it lacks loaded
// whole, so it is no failed import and stays warm for the next request.
// Counting such probes as failed loads had every hgweb request import
// Mercurial afresh (about 100 ms of CPU a page instead of 13).
func TestLazyProbeKeepsModule(t *testing.T) {
	base, _ := startWarmcgi(t, testdataCGIBin(t), "-w", "1", "--isolation", "subinterp")
	client := &http.Client{Timeout: 30 * time.Second}
	for i, want := range []string{"loaded before: False", "loaded before: True", "loaded before: True"} {
		code, body, err := fetch(t, client, base+"cgi-bin/halfimport/lazyprobe.py")
		if err != nil || code != 200 || !strings.Contains(body, "probe: False (0.0, 1.0, 1)") {
			t.Fatalf("lazyprobe.py (run %d): %d %v %q", i+1, code, err, body)
		}
		if !strings.HasPrefix(body, want) {
			t.Errorf("lazyprobe.py (run %d): %q, want it to start %q", i+1, body, want)
		}
	}
}

// TestLazyReentrantLoadKeepsModule: json loaded lazily
// (testdata/cgi-bin/halfimport/lazyreentrant.py), whose load reads a name
// from json itself before binding it; from Python 3.12.3 LazyLoader
// answers that read with an AttributeError that names neither module nor
// name. The load succeeded, so json stays warm, in a sub-interpreter and in
// a worker process (where auto runs hgweb). Counting the read as a failed
// load dropped json and all of Mercurial after every hgweb page on Debian
// 13 (115–160 ms a page instead of 22).
func TestLazyReentrantLoadKeepsModule(t *testing.T) {
	for _, mode := range []string{"subinterp", "process"} {
		t.Run(mode, func(t *testing.T) {
			base, _ := startWarmcgi(t, testdataCGIBin(t), "-w", "1", "--isolation", mode)
			client := &http.Client{Timeout: 30 * time.Second}
			for i, want := range []string{"loaded before: False", "loaded before: True", "loaded before: True"} {
				code, body, err := fetch(t, client, base+"cgi-bin/halfimport/lazyreentrant.py")
				if err != nil || code != 200 || !strings.Contains(body, `dumps: {"a": [1, 2]}`) {
					t.Fatalf("lazyreentrant.py (run %d): %d %v %q", i+1, code, err, body)
				}
				if !strings.HasPrefix(body, want) {
					t.Errorf("lazyreentrant.py (run %d): %q, want it to start %q", i+1, body, want)
				}
			}
		})
	}
}

// TestAutoSignalWatchdog: a SIGALRM watchdog moves its script out of
// subinterp (which only emulates SIGALRM) under --isolation auto, once,
// with the reason logged, to fork mode, where the watchdog interrupts the
// sleep at 0.3 s as under Apache.
func TestAutoSignalWatchdog(t *testing.T) {
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "auto", "-w", "2")
	client := &http.Client{Timeout: 30 * time.Second}
	var took []time.Duration
	var bodies []string
	for range 2 {
		start := time.Now()
		code, body, err := fetch(t, client, p.url+"cgi-bin/ext/alarm_watchdog.py")
		if err != nil || code != 200 {
			t.Fatalf("alarm_watchdog.py: %d %v %q", code, err, body)
		}
		took = append(took, time.Since(start))
		bodies = append(bodies, body)
	}
	logs := p.stderr.String()
	if strings.Count(logs, `msg="isolation auto: script moved out of subinterp"`) != 1 ||
		!strings.Contains(logs, `reason="calls signal.setitimer`) {
		t.Errorf("want one decision for alarm_watchdog.py (signal.setitimer):\n%s", logs)
	}
	// The first request is moved before any of it runs (its source calls
	// signal.setitimer) and answered in fork mode, as every later one.
	if !strings.HasPrefix(bodies[0], "interrupted after 0.3 s") {
		t.Errorf("request 1: %q in %v, want the fork-mode answer (sleep interrupted at 0.3 s)", bodies[0], took[0])
	}
	if took[1] > 1500*time.Millisecond || !strings.HasPrefix(bodies[1], "interrupted after 0.3 s") {
		t.Errorf("request 2: %q in %v, want the sleep interrupted at 0.3 s, well under 1.5 s", bodies[1], took[1])
	}
	if !strings.Contains(logs, `mode=fork reason="calls signal.setitimer`) {
		t.Errorf("want alarm_watchdog.py moved to fork mode:\n%s", logs)
	}
}

// TestSinglePhaseInitInServer: where a single-phase module's init runs
// when a sub-interpreter imports it (sysflag.py, in main mode, reads the
// mark the init leaves in the sys of the interpreter active while it ran).
// With an explicit subinterp it runs in the server: in the importing
// sub-interpreter on 3.11, and on 3.13's own-GIL ones with the main
// interpreter active, just before CPython's check refuses the module
// (Python/import.c, import_run_extension: the init, then
// _PyImport_CheckSubinterpIncompatibleExtensionAllowed). Under auto it
// never runs in the server: the guard refuses it first and the request is
// answered by a process-mode worker, where it loads.
func TestSinglePhaseInitInServer(t *testing.T) {
	ext := buildTestExtensions(t)
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(base, script string) string {
		t.Helper()
		code, body, err := fetch(t, client, base+"cgi-bin/ext/"+script)
		if err != nil || code != 200 {
			t.Fatalf("%s: %d %v %q", script, code, err, body)
		}
		return body
	}
	t.Run("subinterp", func(t *testing.T) {
		base, _ := startWarmcgi(t, testdataCGIBin(t), "--isolation", "subinterp", "-w", "1",
			"--isolation-for", "sysflag.py=main", "--set-env", "SWIGLIKE_DIR="+ext)
		if got := get(base, "sysflag.py"); got != "init ran here: False\n" {
			t.Fatalf("before: %q", got)
		}
		got := get(base, "swiglike_init.py")
		if pyhost.OwnGILSupported() {
			if want := "ImportError: module swiglike does not support loading in subinterpreters\ninit ran here: False\n"; got != want {
				t.Errorf("own-GIL sub-interpreter: %q, want %q", got, want)
			}
			if got := get(base, "sysflag.py"); got != "init ran here: True\n" {
				t.Errorf("main interpreter after the refused import: %q: the init did not run there", got)
			}
		} else if got != "imported\ninit ran here: True\n" {
			t.Errorf("legacy sub-interpreter: %q", got)
		}
	})
	t.Run("auto", func(t *testing.T) {
		base, logs := startWarmcgi(t, testdataCGIBin(t), "--isolation", "auto", "-w", "1",
			"--isolation-for", "sysflag.py=main", "--set-env", "SWIGLIKE_DIR="+ext)
		for range 2 {
			if got := get(base, "swiglike_init.py"); got != "imported\ninit ran here: True\n" {
				t.Errorf("auto: %q, want it imported in its process-mode worker", got)
			}
		}
		if got := get(base, "sysflag.py"); got != "init ran here: False\n" {
			t.Errorf("main interpreter: %q: the init ran in the server", got)
		}
		if !strings.Contains(logs(), `reason="imports swiglike (single-phase init)"`) {
			t.Errorf("no decision in the log:\n%s", logs())
		}
	})
}

// TestAutoSubversion is the fault bar with a real SWIG binding, Debian's
// python3-subversion (the crash: SIGSEGV in libsvn_swig_py under
// concurrent requests in sub-interpreters; measured here: the server dies
// within its first 8 requests with --isolation subinterp -w 4
// --max-requests 5). Under --isolation auto, 16 concurrent requests from
// 4 clients are all answered right, the server lives, and the script is
// moved once, for libsvn's single-phase init.
func TestAutoSubversion(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load; skipped with -short")
	}
	if v := debianPythonVersion(t); v != pythonMajorMinor() {
		t.Skipf("Debian's python3-subversion is built for Python %s, the binary links %s", v, pythonMajorMinor())
	}
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := createSvnRepo(root)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-subversion is not usable (CI installs it): %v", err)
		}
		t.Skipf("python3-subversion is needed (apt-get install python3-subversion): %v", err)
	}
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "auto", "-w", "4", "--max-requests", "5",
		"--set-env", "SVN_REPO="+repo)
	n, wrong := hammer(t, p.url, "cgi-bin/ext/svnrepo.py", "svn youngest 1 entries [b'README', b'trunk']\n", 4, 4, 3*time.Second)
	select {
	case <-p.exited:
		t.Fatalf("the server died under the load: %v", p.err)
	default:
	}
	if len(wrong) > 0 || n < 16 {
		t.Errorf("%d answers, wrong ones: %q", n, wrong)
	}
	logs := p.stderr.String()
	if strings.Count(logs, `msg="isolation auto: script moved out of subinterp"`) != 1 ||
		!regexp.MustCompile(`svnrepo\.py mode=process reason="imports libsvn\.\w+ \((single-phase init|it declares no support for a per-interpreter GIL)\)"`).MatchString(logs) {
		t.Errorf("want one decision for svnrepo.py (libsvn, single-phase init):\n%s", logs)
	}
	t.Logf("%d requests of svnrepo.py answered right", n)
}

// TestCheckAuto: warmcgi check says, per embedded script, which mode
// --isolation auto would run it in and why (the same static scan of calls
// and the same extension judgement as serve's auto); its exit status stays
// 0: nothing there needs attention (TestCheckTestdata: 3 for a script that
// does not compile).
func TestCheckAuto(t *testing.T) {
	out, err := exec.Command(warmcgiBin, "check", filepath.Join(testdataCGIBin(t), "ext")).CombinedOutput()
	if err != nil {
		t.Fatalf("warmcgi check: %v\n%s", err, out)
	}
	text := string(out)
	want := []string{"embedded   alarm_watchdog.py\n", "           auto → fork: calls signal.setitimer (line 17)\n"}
	if debianPythonVersion(t) == pythonMajorMinor() && exec.Command("/usr/bin/python3", "-c", "import svn.fs").Run() == nil {
		// single-phase on 3.11-3.13; SWIG's multi-phase modules on 3.14
		// declare no per-interpreter GIL support.
		if !regexp.MustCompile(`           auto → process: imports svn\.fs \((single-phase init|it declares no support for a per-interpreter GIL)\)\n`).MatchString(text) {
			t.Errorf("no decision for svn.fs in:\n%s", text)
		}
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("no %q in:\n%s", w, text)
		}
	}
	if i := strings.Index(text, "multiphase.py"); i < 0 || strings.HasPrefix(text[i+len("multiphase.py\n"):], "           auto") {
		t.Errorf("multiphase.py should stay in subinterp:\n%s", text)
	}
}

// TestAutoAfterStreaming: a request that streamed part of its page before
// showing it needs another mode is not run again (the client has that
// part): it finishes in its sub-interpreter, in the server's process, and
// the script's next request runs in auto's target mode, another process.
func TestAutoAfterStreaming(t *testing.T) {
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "auto", "-w", "1")
	client := &http.Client{Timeout: 30 * time.Second}
	var pids []string
	for i := range 2 {
		code, body, err := fetch(t, client, p.url+"cgi-bin/ext/stream_then_tz.py")
		pid, ok := strings.CutPrefix(body, "part one\npart two, pid ")
		if err != nil || code != 200 || !ok {
			t.Fatalf("request %d: %d %v %q", i+1, code, err, body)
		}
		pids = append(pids, strings.TrimSpace(pid))
	}
	server := fmt.Sprint(p.cmd.Process.Pid)
	if pids[0] != server || pids[1] == server {
		t.Errorf("ran in pids %q, want the server's (%s) then a worker's", pids, server)
	}
	if logs := p.stderr.String(); strings.Count(logs, `msg="isolation auto: script moved out of subinterp"`) != 1 ||
		!strings.Contains(logs, `reason="calls time.tzset with TZ=Asia/Tokyo`) {
		t.Errorf("want one decision for stream_then_tz.py (time.tzset):\n%s", logs)
	}
}

// TestAutoTZ: TZ + time.tzset() answers as under Apache (JST) under
// --isolation auto, from the first request on: the sub-interpreter run
// shows the need (the server's zone would be used there), and the request
// is run again in auto's target mode.
func TestAutoTZ(t *testing.T) {
	if _, err := os.Stat("/usr/share/zoneinfo/Asia/Tokyo"); err != nil {
		t.Skip("no tzdata: apt-get install tzdata")
	}
	base, logs := startWarmcgi(t, testdataCGIBin(t), "--isolation", "auto", "-w", "1")
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range 2 {
		if code, body, err := fetch(t, client, base+"cgi-bin/ext/tz.py"); err != nil || code != 200 || body != "zone JST\n" {
			t.Errorf("request %d: %d %v %q, want zone JST", i+1, code, err, body)
		}
	}
	if !strings.Contains(logs(), `reason="calls time.tzset with TZ=Asia/Tokyo`) {
		t.Errorf("no decision for tz.py:\n%s", logs())
	}
}

// TestAutoTZSame: TZ set to the server's own zone by another name (Django
// sets TZ from its TIME_ZONE on every request), then time.tzset(), changes
// nothing, so auto leaves the script in its sub-interpreter; it answers as
// under CGI.
func TestAutoTZSame(t *testing.T) {
	link, err := os.Readlink("/etc/localtime")
	if err != nil {
		t.Skip("/etc/localtime is not a link to a zone file")
	}
	zone := strings.TrimPrefix(link, "/usr/share/zoneinfo/")
	if zone == "Etc/UTC" || zone == "UTC" {
		zone = "UTC" // another name of Etc/UTC: the zones' data are compared
		if link == "/usr/share/zoneinfo/UTC" {
			zone = "Etc/UTC"
		}
	}
	cmd := exec.Command("/usr/bin/python3", filepath.Join(testdataCGIBin(t), "ext", "tz_same.py"))
	cmd.Env = []string{"WANT_TZ=" + zone, "PATH=/usr/bin:/bin"}
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	_, cgiBody, _ := strings.Cut(string(want), "\n\n")
	base, logs := startWarmcgi(t, testdataCGIBin(t), "-w", "1", "--set-env", "WANT_TZ="+zone)
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range 2 {
		if code, body, err := fetch(t, client, base+"cgi-bin/ext/tz_same.py"); err != nil || code != 200 || body != cgiBody {
			t.Errorf("request %d: %d %v %q, want %q (python3 as CGI)", i+1, code, err, body, cgiBody)
		}
	}
	if strings.Contains(logs(), "tz_same.py mode=") {
		t.Errorf("tz_same.py was moved out of its sub-interpreter:\n%s", logs())
	}
}

// TestAutoMovesOnce: the request that shows a need is run again in fork
// mode without doing twice what the script does after that point: a
// SIGALRM handler, seen when it is set, stops the script there
// (alarm_once.py); a timer call in the script's own source moves it before
// any of it runs (alarm_mark_first.py). So each request appends one line to
// $MARK, as under CGI. The decisions are on the status page and in
// /metrics, and a SIGHUP keeps them.
func TestAutoMovesOnce(t *testing.T) {
	dir, err := os.MkdirTemp("", "warmcgi-mark-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777) // the server may run as --user
	mark := filepath.Join(dir, "mark")
	p := startWarmcgiProcess(t, testdataCGIBin(t), "-w", "2", "--status", "127.0.0.1:0", "--set-env", "MARK="+mark)
	status := statusURL(t, p.stderr.String)
	client := &http.Client{Timeout: 30 * time.Second}
	scripts := map[string]string{"alarm_once.py": "sets a SIGALRM handler", "alarm_mark_first.py": "calls signal.alarm"}
	for script, reason := range scripts {
		os.Remove(mark)
		get := func(n int) {
			t.Helper()
			code, body, err := fetch(t, client, p.url+"cgi-bin/ext/"+script)
			if err != nil || code != 200 || body != "marked\n" {
				t.Fatalf("%s: %d %v %q\n%s", script, code, err, body, p.stderr.String())
			}
			b, _ := os.ReadFile(mark)
			if got := strings.Fields(string(b)); len(got) != n {
				t.Fatalf("%s: after %d requests $MARK has %d lines %q: want one per request", script, n, len(got), got)
			}
		}
		get(1)
		moved := regexp.MustCompile(`(?m)^/cgi-bin/ext/` + regexp.QuoteMeta(script) + ` +fork +\S+ +` + regexp.QuoteMeta(reason))
		if _, body, err := fetch(t, client, status); err != nil || !strings.Contains(body, "Moved by --isolation auto") || !moved.MatchString(body) {
			t.Errorf("the status page does not show the move of %s (%v):\n%s", script, err, body)
		}
		labels := map[string]string{"script": "/cgi-bin/ext/" + script, "mode": "fork"}
		if v, ok := metricValue(scrape(t, status), "warmcgi_script_isolation_moved", labels); !ok || v != 1 {
			t.Errorf("warmcgi_script_isolation_moved%v = %v (%v), want 1", labels, v, ok)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		get(2)
		get(3)
		if _, body, err := fetch(t, client, status); err != nil || !moved.MatchString(body) {
			t.Errorf("after SIGHUP the status page lost the move of %s (%v):\n%s", script, err, body)
		}
	}
	if n := strings.Count(p.stderr.String(), `msg="isolation auto: script moved out of subinterp"`); n != len(scripts) {
		t.Errorf("%d decisions logged, want %d (one per script, kept across SIGHUP):\n%s", n, len(scripts), p.stderr.String())
	}
}

// TestAlarmInterruptsSocketRead: a SIGALRM watchdog interrupts a blocking
// socket read within its period, as under CGI, in the default
// configuration (auto moves the script to fork mode) and in fork mode.
func TestAlarmInterruptsSocketRead(t *testing.T) {
	for _, flags := range [][]string{nil, {"--isolation", "fork"}} {
		t.Run(strings.Join(append([]string{"default"}, flags...), " "), func(t *testing.T) {
			base, _ := startWarmcgi(t, testdataCGIBin(t), append([]string{"-w", "1", "--timeout", "20s"}, flags...)...)
			client := &http.Client{Timeout: 30 * time.Second}
			for i := range 2 {
				code, body, err := fetch(t, client, base+"cgi-bin/ext/alarm_socket.py")
				if err != nil || code != 200 || body != "recv interrupted after 0.3 s\n" {
					t.Errorf("request %d: %d %v %q, want the recv interrupted at 0.3 s", i+1, code, err, body)
				}
			}
		})
	}
}

// TestAutoCPUBound: under the default auto with two workers, a script that
// keeps the GIL busy (8 ms of CPU a request) moves to worker processes
// after its third measured request (not the first, with its imports, nor a
// worker's first run of it) where the sub-interpreters share one GIL
// (3.11, 3.12), so its requests can use a core each; with an own GIL per
// interpreter (3.13+), or one worker, it stays in its sub-interpreter.
func TestAutoCPUBound(t *testing.T) {
	for _, workers := range []string{"2", "1"} {
		t.Run("w"+workers, func(t *testing.T) {
			p := startWarmcgiProcess(t, testdataCGIBin(t), "-w", workers)
			client := &http.Client{Timeout: 30 * time.Second}
			server := fmt.Sprint(p.cmd.Process.Pid)
			moves := workers != "1" && !pyhost.OwnGILSupported()
			movedAt := 0 // the first request that ran in a worker process
			for i := 1; i <= 8; i++ {
				code, body, err := fetch(t, client, p.url+"cgi-bin/ext/cpu_bound.py")
				if err != nil || code != 200 || !strings.HasPrefix(body, "pid ") {
					t.Fatalf("request %d: %d %v %q\n%s", i, code, err, body, p.stderr.String())
				}
				inServer := strings.TrimSpace(strings.TrimPrefix(body, "pid ")) == server
				switch {
				case !inServer && movedAt == 0:
					movedAt = i
				case inServer && movedAt > 0:
					t.Errorf("request %d ran in the server's process after request %d ran in a worker process", i, movedAt)
				}
			}
			// Moved after three measured requests: the fifth at the
			// earliest; a request that was a worker's first run of the
			// script (compiled) is not measured, so with two workers the
			// seventh at the latest.
			if moves && (movedAt < 5 || movedAt > 7) || !moves && movedAt != 0 {
				t.Errorf("the first request in a worker process was request %d (0: none), want %s\n%s",
					movedAt, map[bool]string{true: "5 to 7", false: "none"}[moves], p.stderr.String())
			}
			moved := strings.Contains(p.stderr.String(), "keeps the shared GIL busy")
			if moved != moves {
				t.Errorf("logged a move for the CPU: %v, want %v\n%s", moved, moves, p.stderr.String())
			}
		})
	}
}

// TestAutoWarmupNotCPUBound: under the default auto with four workers, a
// script that imports much of the standard library and then sleeps, asked
// four at a time, stays in its sub-interpreters. Each worker's first run
// of it imports those modules (tens of milliseconds of CPU each on a
// shared GIL); that is not the script's own cost, and counting it moved
// such a script to worker processes at its fourth request.
func TestAutoWarmupNotCPUBound(t *testing.T) {
	p := startWarmcgiProcess(t, testdataCGIBin(t), "-w", "4")
	client := &http.Client{Timeout: 30 * time.Second}
	server := fmt.Sprint(p.cmd.Process.Pid)
	threads := map[string]bool{}
	for round := 1; round <= 3; round++ {
		var wg sync.WaitGroup
		bodies := make([]string, 4)
		errs := make([]error, 4)
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var code int
				code, bodies[i], errs[i] = fetch(t, client, p.url+fmt.Sprintf("cgi-bin/ext/imports_then_sleeps.py?%d", 300*round))
				if errs[i] == nil && code != 200 {
					errs[i] = fmt.Errorf("status %d", code)
				}
			}()
		}
		wg.Wait()
		for i, body := range bodies {
			f := strings.Fields(body)
			if errs[i] != nil || len(f) != 4 || f[0] != "pid" {
				t.Fatalf("round %d: %v %q\n%s", round, errs[i], body, p.stderr.String())
			}
			if f[1] != server {
				t.Errorf("round %d: ran in process %s, not in the server (%s)\n%s", round, f[1], server, p.stderr.String())
			}
			threads[f[3]] = true
		}
	}
	if len(threads) < 3 {
		t.Fatalf("the requests reached %d workers, want at least 3 (the test needs fresh workers)", len(threads))
	}
	if strings.Contains(p.stderr.String(), "keeps the shared GIL busy") {
		t.Errorf("the script was moved for its CPU:\n%s", p.stderr.String())
	}
}
