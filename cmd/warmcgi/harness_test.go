package main

// Helpers that start the two servers the integration tests talk to: the real
// warmcgi binary (built once by TestMain) and, as the behavioural reference,
// Apache httpd with mod_cgi serving the same directory.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/pyhost"
)

// warmcgiBin is the path of the warmcgi binary built by TestMain.
var warmcgiBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds the binary from this package into a temporary
// directory, runs the tests and removes the directory again.
func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "warmcgi-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintf(os.Stderr, "harness: cannot build warmcgi: the go command is not on PATH: %v\n", err)
		return 1
	}
	bin := filepath.Join(dir, "warmcgi")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	// The binary links libpython through cgo: a build with cgo off would
	// either fail or produce the no-Python stub, so insist on it.
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "harness: building warmcgi failed (%v); cgo, a C compiler and the "+
			"python3-embed pkg-config files are needed:\n%s\n", err, out)
		return 1
	}
	warmcgiBin = bin
	return m.Run()
}

// testdataCGIBin returns the absolute path of testdata/cgi-bin.
func testdataCGIBin(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "cgi-bin"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// outputBuffer collects a child's output while it runs.
type outputBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listeningURL = regexp.MustCompile(`url=(\S+)`)

// startWarmcgi runs `warmcgi serve DIR --listen 127.0.0.1:0 EXTRA...` and
// waits (up to 30 s) for the log line with msg=listening that carries the
// base URL, e.g. "http://127.0.0.1:41234/". The server is stopped with
// SIGTERM when the test ends. logs returns everything written to stderr so
// far.
func startWarmcgi(t testing.TB, dir string, extraArgs ...string) (baseURL string, logs func() string) {
	t.Helper()
	p := startWarmcgiProcess(t, dir, extraArgs...)
	return p.url, p.stderr.String
}

// warmcgiProcess is a running warmcgi server started by a test.
type warmcgiProcess struct {
	url    string
	cmd    *exec.Cmd
	stderr *outputBuffer
	stdout *outputBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, once exited is closed
}

// sigterm sends the server SIGTERM and waits until its log says it is
// draining.
func (p *warmcgiProcess) sigterm(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if missing := waitForLog(ctx, p.stderr.String, "shutting down"); len(missing) > 0 {
		t.Fatalf("no \"shutting down\" after SIGTERM:\n%s", p.stderr.String())
	}
}

// startWarmcgiProcess is startWarmcgi for tests that signal the process
// or look at how it exited.
func startWarmcgiProcess(t testing.TB, dir string, extraArgs ...string) *warmcgiProcess {
	t.Helper()
	p := launchWarmcgi(t, dir, append([]string{"--listen", "127.0.0.1:0"}, extraArgs...)...)
	p.waitFor(t, `"msg=listening ... url=..."`, func(logs string) bool {
		for _, line := range strings.Split(logs, "\n") {
			if !strings.Contains(line, "msg=listening") {
				continue
			}
			if m := listeningURL.FindStringSubmatch(line); m != nil {
				p.url = m[1]
				return true
			}
		}
		return false
	})
	return p
}

// launchWarmcgi starts `warmcgi serve DIR ARGS...`, with the privilege
// flags the harness adds as root, and stops it (SIGTERM, then SIGKILL)
// when the test ends. It does not wait for the server to listen.
func launchWarmcgi(t testing.TB, dir string, args ...string) *warmcgiProcess {
	t.Helper()
	if warmcgiBin == "" {
		t.Fatal("harness: warmcgi binary not built (TestMain did not run)")
	}
	all := append([]string{"serve", dir}, privilegeArgs(dir, args)...)
	all = append(all, args...)
	p := &warmcgiProcess{cmd: exec.Command(warmcgiBin, all...), stderr: &outputBuffer{}, stdout: &outputBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("harness: starting warmcgi: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		stopProcess(t, "warmcgi", p.cmd, p.exited, 10*time.Second)
		if t.Failed() {
			t.Logf("warmcgi stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// waitFor polls the server's log until ready says it is ready, failing
// the test if the server exits first or 30 s pass; what names the awaited
// line in the failure.
func (p *warmcgiProcess) waitFor(t testing.TB, what string, ready func(logs string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ready(p.stderr.String()) {
		select {
		case <-p.exited:
			t.Fatalf("harness: warmcgi %q exited before it logged %s: %v\nstdout:\n%s\nstderr:\n%s",
				p.cmd.Args[1:], what, p.err, p.stdout.String(), p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("harness: warmcgi logged no %s within 30s\nstdout:\n%s\nstderr:\n%s",
				what, p.stdout.String(), p.stderr.String())
		}
	}
}

// privilegeArgs returns the flags a test server needs to start when the
// tests run as root, which warmcgi refuses without either of them: the
// test's own choice if extraArgs has --user or --allow-root; otherwise
// --user www-data (Apache's user here, so scripts run as under Apache)
// when that user exists and can reach dir, and --allow-root when it
// cannot (a t.TempDir, a checkout under /root).
func privilegeArgs(dir string, extraArgs []string) []string {
	if os.Geteuid() != 0 {
		return nil
	}
	for _, a := range extraArgs {
		if a == "--user" || strings.HasPrefix(a, "--user=") || a == "--allow-root" {
			return nil
		}
	}
	if _, err := user.Lookup(apacheUser); err == nil && pythonReachableByOthers() {
		if ok, _, err := reachableByOthers(dir); err == nil && ok {
			return []string{"--user", apacheUser}
		}
	}
	return []string{"--allow-root"}
}

// holdProgress requests progress.py, which prints "waiting", flushes, and
// then waits until marker exists, and returns the rest of its streamed
// body once that first line has arrived: a request known to be running.
// The response is closed when the test ends.
func holdProgress(t testing.TB, baseURL, marker string) *bufio.Reader {
	t.Helper()
	_, rd := holdProgressResponse(t, baseURL, marker)
	return rd
}

// holdProgressResponse is holdProgress for tests that look at the
// response's status or headers too.
func holdProgressResponse(t testing.TB, baseURL, marker string) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp, err := http.Get(baseURL + "cgi-bin/progress.py?" + marker)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	rd := bufio.NewReader(resp.Body)
	if line, err := rd.ReadString('\n'); err != nil || line != "waiting\n" {
		t.Fatalf("progress.py: status %d, first streamed line %q, %v", resp.StatusCode, line, err)
	}
	return resp, rd
}

// pythonReachableByOthers reports whether an unprivileged user can read the
// linked Python's library directory (and so its standard library, which
// sits beside it): not so for a Python installed under /root, as pyenv
// does, and then the test servers keep running as root (--allow-root).
func pythonReachableByOthers() bool {
	lib := pyhost.Origin() // libpython's file, or a static build's python3.X
	if lib == "" {
		return true // linked by the loader from a system path
	}
	ok, _, err := reachableByOthers(filepath.Dir(lib))
	return err == nil && ok
}

// requirePythonReachable skips a test that runs the server as another
// user when that user could not read the linked Python's standard library.
func requirePythonReachable(t testing.TB) {
	t.Helper()
	if !pythonReachableByOthers() {
		t.Skipf("skipping: other users cannot read the standard library of %s (a Python under /root?)", pyhost.Origin())
	}
}

// pythonMajorMinor is the linked Python's "3.N".
func pythonMajorMinor() string {
	v, _, _ := strings.Cut(pyhost.Version(), " ")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// debianPythonVersion is the "3.N" of the system's /usr/bin/python3.
func debianPythonVersion(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Fatalf("/usr/bin/python3: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// stopProcess sends SIGTERM, waits up to grace for the process to exit and
// then kills it (and, for a process started in its own group, the group).
func stopProcess(t testing.TB, name string, cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration) {
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(grace):
	}
	t.Logf("harness: %s (pid %d) ignored SIGTERM for %v, killing it", name, cmd.Process.Pid, grace)
	if cmd.SysProcAttr != nil && cmd.SysProcAttr.Setpgid {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	} else {
		_ = cmd.Process.Kill()
	}
	<-exited
}

const (
	apacheBin     = "/usr/sbin/apache2"
	apacheModules = "/usr/lib/apache2/modules"
	// apacheUser runs Apache's children (and so the scripts) when the test
	// runs as root: httpd refuses to serve as root.
	apacheUser = "www-data"
)

// startApache starts Apache httpd (prefork MPM + mod_cgi) with
// `ScriptAlias /cgi-bin/ testdata/cgi-bin/` on a free port of 127.0.0.1 and
// returns its base URL ("http://127.0.0.1:PORT/") and a function returning
// the error log so far (script stderr and tracebacks end up there). Without
// apache2 the test is skipped, unless CI=true, where it fails.
func startApache(t testing.TB, cgiDir string) (baseURL string, errorLog func() string) {
	t.Helper()
	if _, err := os.Stat(apacheBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("harness: %s is required in CI: %v", apacheBin, err)
		}
		t.Skipf("harness: skipping: Apache httpd (%s) is not installed; on Debian: apt-get install apache2", apacheBin)
	}
	asRoot := os.Geteuid() == 0
	if asRoot {
		checkReachableByOthers(t, cgiDir)
	}

	root := t.TempDir()
	if asRoot {
		// t.TempDir's directories are 0700; the children (running as
		// www-data) must reach the document root.
		for _, d := range []string{filepath.Dir(root), root} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	docRoot := filepath.Join(root, "htdocs")
	runDir := filepath.Join(root, "run")
	for _, d := range []string{docRoot, runDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(root, "error.log")
	port := freePort(t)

	var conf strings.Builder
	fmt.Fprintf(&conf, "ServerRoot %q\n", root)
	fmt.Fprintf(&conf, "DefaultRuntimeDir %q\n", runDir)
	fmt.Fprintf(&conf, "PidFile %q\n", filepath.Join(runDir, "httpd.pid"))
	fmt.Fprintf(&conf, "Listen 127.0.0.1:%d\n", port)
	// prefork + mod_cgi rather than Debian's default event + mod_cgid: with
	// mod_cgid the script's stdin is the Unix socket its output travels
	// back on, so a script that exits without reading a POST body (env.py)
	// makes the kernel reset that socket and Apache cuts the response
	// short ("AH00574 ... Connection reset by peer"). That is a transport
	// accident, not CGI behaviour; mod_cgi uses pipes and has none of it.
	for _, mod := range []string{"mpm_prefork", "authz_core", "mime", "alias", "cgi", "env"} {
		fmt.Fprintf(&conf, "LoadModule %s_module %q\n", mod, filepath.Join(apacheModules, "mod_"+mod+".so"))
	}
	if asRoot {
		fmt.Fprintf(&conf, "User %s\nGroup %s\n", apacheUser, apacheUser)
	}
	conf.WriteString("ServerName 127.0.0.1\nServerSignature Off\nServerTokens Prod\n")
	fmt.Fprintf(&conf, "ErrorLog %q\nLogLevel warn\n", logPath)
	conf.WriteString("TypesConfig /etc/mime.types\n")
	conf.WriteString("CGIScriptTimeout 20\n")
	conf.WriteString("<Directory />\n  AllowOverride None\n  Require all denied\n</Directory>\n")
	fmt.Fprintf(&conf, "DocumentRoot %q\n<Directory %q>\n  Require all granted\n</Directory>\n", docRoot, docRoot)
	fmt.Fprintf(&conf, "ScriptAlias /cgi-bin/ %q\n<Directory %q>\n  Require all granted\n</Directory>\n",
		cgiDir+"/", cgiDir)
	confPath := filepath.Join(root, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(apacheBin, "-f", confPath, "-DFOREGROUND")
	cmd.Dir = root
	// Apache passes PATH on to the scripts; give it nothing else.
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	out := &outputBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	// Its own process group, so that a final SIGKILL also reaches the
	// children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("harness: starting apache: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	errorLog = func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	t.Cleanup(func() {
		stopProcess(t, "apache2", cmd, exited, 10*time.Second)
		if t.Failed() {
			t.Logf("apache output:\n%s\napache error log:\n%s", out.String(), errorLog())
		}
	})

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := probeHTTP(addr); err == nil {
			return "http://" + addr + "/", errorLog
		} else if time.Now().After(deadline) {
			t.Fatalf("harness: apache did not answer on %s within 20s: %v\noutput:\n%s\nerror log:\n%s",
				addr, err, out.String(), errorLog())
		}
		select {
		case <-exited:
			t.Fatalf("harness: apache exited: %v\nconfig:\n%s\noutput:\n%s\nerror log:\n%s",
				waitErr, conf.String(), out.String(), errorLog())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// probeHTTP sends one request to addr and succeeds if anything that looks
// like an HTTP response comes back.
func probeHTTP(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "HEAD / HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "HTTP/") {
		return fmt.Errorf("unexpected answer %q", line)
	}
	return nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another process
// could take it before Apache binds it; that shows up as a start failure.
func freePort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1)[0]
}

// freePorts asks for n distinct free ports. The listeners stay open until
// all n are chosen: one closed at once could be handed out again by the
// next request (a server config listening twice on one port then loses a
// server block; nginx only warns "conflicting server name").
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// checkReachableByOthers fails the test if Apache's children, which run as
// an unprivileged user, could not reach dir: every ancestor needs o+x and
// dir itself o+rx. A checkout under /root is the usual cause.
// reachableByOthers reports whether a user other than the owner can reach
// dir (o+x on every parent, o+rx on dir itself), and names the first
// directory that stops it.
func reachableByOthers(dir string) (ok bool, blocker string, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return false, d, err
		}
		want := os.FileMode(0o001)
		if d == dir {
			want = 0o005
		}
		if fi.Mode().Perm()&want != want {
			return false, d, nil
		}
		if d == filepath.Dir(d) {
			return true, "", nil
		}
	}
}

func checkReachableByOthers(t testing.TB, dir string) {
	t.Helper()
	ok, blocker, err := reachableByOthers(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("harness: Apache runs the scripts as %s, which cannot reach %s: %s blocks it (needs o+x; "+
			"chmod o+rx or move the checkout)", apacheUser, dir, blocker)
	}
}

// sharedCGIBin returns the directory both servers of a differential test
// serve: testdata/cgi-bin itself, or, when Apache's user could not reach
// it (a checkout under /root, say), a copy of it in a world-readable
// temporary directory, so the test does not depend on where it was cloned.
func sharedCGIBin(t testing.TB) string {
	t.Helper()
	src := testdataCGIBin(t)
	if os.Geteuid() != 0 {
		return src
	}
	if ok, _, err := reachableByOthers(src); err == nil && ok {
		return src
	}
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(root, "cgi-bin")
	copyReadable(t, src, dst)
	return dst
}

// copyReadable copies the tree src to dst, readable (and, where the owner
// may execute, executable) by every user: the scripts may run as www-data.
func copyReadable(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("harness: copying %s: %v", src, err)
	}
	// CopyFS keeps the exec bits but not the read bits for others.
	err := filepath.WalkDir(dst, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return os.Chmod(path, fi.Mode().Perm()|0o044|(fi.Mode().Perm()&0o100)>>3|(fi.Mode().Perm()&0o100)>>6)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitForLog polls logs until it contains every one of want or the timeout
// passes, and returns the strings still missing. Servers write a script's
// stderr to their log around the time the response completes, not strictly
// before it.
func waitForLog(ctx context.Context, logs func() string, want ...string) (missing []string) {
	for {
		missing = missing[:0]
		text := logs()
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return missing
		case <-time.After(50 * time.Millisecond):
		}
	}
}
