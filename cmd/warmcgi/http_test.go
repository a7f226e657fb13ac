package main

// warmcgi http against python3 -m http.server --cgi, on one directory tree:
// every request goes to both, raw (so "..", "%2e%2e" and the rest reach
// the servers as written), and the answers must agree but for the
// differences the README lists, each asserted here.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// siteTime is the modification time of every file of the test site, so
// Last-Modified and If-Modified-Since are known values.
var siteTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

const siteLastModified = "Tue, 02 Jan 2024 03:04:05 GMT"

// envScript prints what a CGI script is told of its request, and its body.
const envScript = `import os, sys
sys.stdout.write("Content-Type: text/plain\r\n\r\n")
for k in ("REQUEST_METHOD", "QUERY_STRING", "SCRIPT_NAME", "PATH_INFO", "CONTENT_LENGTH"):
    print(k, "=", os.environ.get(k) or "")  # http.server sets "" where Apache sets nothing
n = int(os.environ.get("CONTENT_LENGTH") or 0)
if n:
    print("CONTENT_TYPE", "=", os.environ.get("CONTENT_TYPE"))
sys.stdout.flush()
print("body", "=", sys.stdin.read(n) if n else "")
`

// makeSite builds the tree both servers serve, readable by every user
// (http.server's CGI children run as nobody when it runs as root), and
// returns the site and the directory above it (with outside.txt).
func makeSite(t *testing.T) (site, parent string) {
	t.Helper()
	parent, err := os.MkdirTemp("", "warmcgi-http-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	site = filepath.Join(parent, "site")
	shebang := "#!/usr/bin/env python3\n"
	files := map[string]string{
		"index.html":          "<!DOCTYPE html><title>home</title><form action=\"/cgi-bin/env.py\" method=\"post\"></form>\n",
		"a.txt":               "hello, static\n",
		"style.css":           "body { color: black }\n",
		"data.json":           "{\"k\": 1}\n",
		"README":              "no extension\n",
		"logo.png":            "\x89PNG\r\n\x1a\n not really\n",
		"archive.tar.gz":      "\x1f\x8b not really\n",
		"latin1.html":         "<meta charset=\"iso-8859-1\"><p>caf\xe9</p>\n",
		".secret":             "password=hunter2\n",
		"sub/index.html":      "<p>sub index</p>\n",
		"sub/page.html":       "<p>sub page</p>\n",
		"htmdir/index.htm":    "<p>htm index</p>\n",
		"noindex/f.txt":       "f\n",
		"noindex/B c&<.txt":   "odd name\n",
		"noindex/deeper/x":    "x\n",
		"cgi-bin/env.py":      shebang + envScript,
		"cgi-bin/status.py":   shebang + "print('Status: 404 Not Found')\nprint('Content-Type: text/plain')\nprint()\nprint('gone')\n",
		"cgi-bin/ctype.py":    shebang + "import os\nprint('Content-Type: text/plain')\nprint()\nprint(repr(os.environ.get('CONTENT_TYPE')))\n",
		"cgi-bin/cwd.py":      shebang + "import os\nprint('Content-Type: text/plain')\nprint()\nprint(os.getcwd())\n",
		"cgi-bin/data.txt":    "DATA-NOT-FOR-CLIENTS\n",
		"htbin/h.py":          shebang + "print('Content-Type: text/plain')\nprint()\nprint('from htbin')\n",
		"../outside.txt":      "OUTSIDE-THE-SITE\n",
		"../cgi-other/own.py": shebang + "print('Content-Type: text/plain')\nprint()\nprint('scripts elsewhere')\n",
	}
	for name, body := range files {
		p := filepath.Join(site, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".py") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		if err := os.Chtimes(p, siteTime, siteTime); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"escape.txt":   filepath.Join(parent, "outside.txt"), // leaves the site
		"src":          "cgi-bin",                            // the scripts' source by another path
		"noindex/link": "../a.txt",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(site, name)); err != nil {
			t.Fatal(err)
		}
	}
	return site, parent
}

// requireHTTPServerCGI returns a python3 whose http.server still has
// CGIHTTPRequestHandler (removed in Python 3.15), or skips the test:
// /usr/bin/python3, or $WARMCGI_TEST_HTTP_SERVER_PYTHON.
func requireHTTPServerCGI(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3" // Debian's (pyenv's shims under /root are out of nobody's reach)
	if env := os.Getenv("WARMCGI_TEST_HTTP_SERVER_PYTHON"); env != "" {
		py = env // another reference, e.g. a Python 3.13
	}
	if _, err := os.Stat(py); err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			t.Skip("no python3 to run http.server --cgi against")
		}
	}
	out, err := exec.Command(py, "-c", "import sys, http.server; http.server.CGIHTTPRequestHandler; print(sys.version.split()[0])").CombinedOutput()
	if err != nil {
		t.Skipf("%s has no http.server.CGIHTTPRequestHandler (Python 3.15 removed it), nothing to compare with: %s", py, bytes.TrimSpace(out))
	}
	t.Logf("reference: %s -m http.server --cgi (Python %s)", py, bytes.TrimSpace(out))
	return py
}

// startHTTPServer runs python3 -m http.server --cgi in site on a free port
// and returns its host:port.
func startHTTPServer(t *testing.T, py, site string) string {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(py, "-m", "http.server", "--cgi", "--bind", "127.0.0.1", port)
	cmd.Dir = site
	cmd.Env = append(os.Environ(), "PATH=/usr/local/bin:/usr/bin:/bin")
	logs := &outputBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stopProcess(t, "http.server", cmd, exited, 5*time.Second)
		if t.Failed() {
			t.Logf("http.server log:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(15 * time.Second); probeHTTP(addr) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("http.server did not answer on %s:\n%s", addr, logs.String())
		}
	}
	return addr
}

// startWarmcgiCmd runs `warmcgi ARGS...` (a serve or http command line,
// the privilege flags added as the harness does) and returns its
// host:port once it logs that it listens.
func startWarmcgiCmd(t *testing.T, dir string, args ...string) (string, *warmcgiProcess) {
	t.Helper()
	all := append(args, privilegeArgs(dir, args)...)
	p := &warmcgiProcess{cmd: exec.Command(warmcgiBin, all...), stderr: &outputBuffer{}, stdout: &outputBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		stopProcess(t, "warmcgi", p.cmd, p.exited, 10*time.Second)
		if t.Failed() {
			t.Logf("warmcgi stderr:\n%s", p.stderr.String())
		}
	})
	p.waitFor(t, "msg=listening", func(logs string) bool {
		m := listeningURL.FindStringSubmatch(logs)
		if m != nil {
			p.url = m[1]
		}
		return m != nil
	})
	return strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/"), p
}

// rawRequest sends one HTTP/1.0 request with the target exactly as given
// and returns the response with its whole body.
func rawRequest(t *testing.T, addr, method, target string, header []string, body string) (*http.Response, string) {
	t.Helper()
	resp, b, err := tryRequest(addr, method, target, header, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return resp, b
}

// tryRequest is rawRequest for a server that may not answer.
func tryRequest(addr, method, target string, header []string, body string) (*http.Response, string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.0\r\nHost: %s\r\n", method, target, addr)
	for _, h := range header {
		req.WriteString(h + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&req, "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("reading the body: %w", err)
	}
	return resp, string(b), nil
}

// httpCase is one request sent to both servers.
type httpCase struct {
	method, target string
	header         []string
	body           string
	status         int    // both servers' status
	pyStatus       int    // http.server's, where it differs on purpose (why says why); -1: no answer at all
	why            string // the README's difference
	file           string // a static file answered: its headers are compared too
	sameBody       bool   // bodies must be equal
}

// httpCases: what http.server --cgi and warmcgi http answer alike, and
// every deliberate difference.
var httpCases = []httpCase{
	{method: "GET", target: "/", status: 200, file: "index.html", sameBody: true},
	{method: "GET", target: "/a.txt", status: 200, file: "a.txt", sameBody: true},
	{method: "HEAD", target: "/a.txt", status: 200, file: "a.txt", sameBody: true},
	{method: "GET", target: "/style.css", status: 200, file: "style.css", sameBody: true},
	{method: "GET", target: "/data.json", status: 200, file: "data.json", sameBody: true},
	{method: "GET", target: "/README", status: 200, file: "README", sameBody: true},
	{method: "GET", target: "/logo.png", status: 200, file: "logo.png", sameBody: true},
	{method: "GET", target: "/archive.tar.gz", status: 200, file: "archive.tar.gz", sameBody: true},
	{method: "GET", target: "/latin1.html", status: 200, file: "latin1.html", sameBody: true},
	{method: "GET", target: "/sub", status: 301, sameBody: true},
	{method: "GET", target: "/sub?x=1", status: 301, sameBody: true},
	{method: "GET", target: "/sub/", status: 200, file: "sub/index.html", sameBody: true},
	{method: "GET", target: "/sub/page.html?ignored=1", status: 200, file: "sub/page.html", sameBody: true},
	{method: "GET", target: "/htmdir/", status: 200, file: "htmdir/index.htm", sameBody: true},
	{method: "GET", target: "/noindex/", status: 200, sameBody: true},
	{method: "GET", target: "/noindex/?q=%41&b", status: 200, sameBody: true},
	{method: "HEAD", target: "/noindex/", status: 200, sameBody: true},
	{method: "GET", target: "/noindex/B%20c%26%3C.txt", status: 200, file: "noindex/B c&<.txt", sameBody: true},
	{method: "GET", target: "/sub/../a.txt", status: 200, file: "a.txt", sameBody: true},
	{method: "GET", target: "/a.txt", header: []string{"If-Modified-Since: " + siteLastModified}, status: 304, sameBody: true},
	{method: "GET", target: "/a.txt", header: []string{"If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT"}, status: 200, file: "a.txt", sameBody: true},
	{method: "GET", target: "/nope.txt", status: 404},
	{method: "GET", target: "/a.txt/", status: 404},
	{method: "GET", target: "/cgi-bin/env.py?x=1&y=%20z", status: 200, sameBody: true},
	{method: "GET", target: "/cgi-bin/env.py/extra/path", status: 200, sameBody: true},
	{method: "POST", target: "/cgi-bin/env.py?z=9", body: "a=1&b=two+words", status: 200, sameBody: true},
	{method: "GET", target: "/htbin/h.py", status: 200, sameBody: true},
	{method: "GET", target: "/cgi-bin", status: 301, sameBody: true},
	{method: "GET", target: "/cgi-bin/", status: 403},
	{method: "GET", target: "/cgi-bin/nope.py", status: 404},
	// The deliberate differences (README, "Drop-in for python3 -m http.server --cgi").
	{method: "GET", target: "/cgi-bin/status.py", status: 404, pyStatus: 200, why: "a script's Status: header is obeyed (RFC 3875); http.server always answers 200"},
	{method: "GET", target: "/cgi-bin/data.txt", status: 500, pyStatus: 403, why: "a file the server may not execute is Apache's 500; neither shows it"},
	{method: "GET", target: "/src/env.py", status: 403, pyStatus: 200, why: "the cgi-bin's files by another path: http.server serves the script's source"},
	{method: "GET", target: "/escape.txt", status: 403, pyStatus: 200, why: "a symbolic link leaving the directory is refused; http.server follows it"},
	{method: "GET", target: "/.secret", status: 404, pyStatus: 200, why: "hidden files are not served"},
	{method: "POST", target: "/a.txt", body: "x=1", status: 405, pyStatus: 501, why: "POST to a file is 405 with Allow; http.server's 501 'Can only POST to CGI scripts'"},
	{method: "GET", target: "/a.txt", header: []string{"Range: bytes=0-4"}, status: 206, pyStatus: 200, why: "ranges are served (http.server ignores Range)"},
	{method: "GET", target: "/cgi-bin/ctype.py", status: 200, why: "the environment is Apache's: no CONTENT_TYPE without a body (http.server: text/plain), nor empty PATH_INFO and CONTENT_LENGTH"},
	{method: "GET", target: "/../outside.txt", status: 404, pyStatus: -1, why: "http.server's _url_collapse_path raises IndexError on a '..' above the root and drops the connection"},
	{method: "GET", target: "/sub/../../outside.txt", status: 404, pyStatus: -1, why: "as above"},
	{method: "GET", target: "/%2e%2e/outside.txt", status: 404, pyStatus: -1, why: "as above, after decoding"},
	{method: "GET", target: "/cgi-bin/%2e%2e/%2e%2e/outside.txt", status: 404, pyStatus: -1, why: "as above"},
}

// TestHTTPDifferential: warmcgi http and python3 -m http.server --cgi on
// one tree answer alike (status, body, Content-Type, Content-Length,
// Last-Modified, Location), and differ exactly where the README says.
func TestHTTPDifferential(t *testing.T) {
	py := requireHTTPServerCGI(t)
	site, _ := makeSite(t)
	pyAddr := startHTTPServer(t, py, site)
	// http.server's own command line, --cgi included; no --bind: the
	// default must be loopback.
	wcAddr, _ := startWarmcgiCmd(t, site, "http", "--cgi", site, "0")
	if !strings.HasPrefix(wcAddr, "127.0.0.1:") {
		t.Fatalf("warmcgi http listens on %s by default, want 127.0.0.1", wcAddr)
	}

	for _, c := range httpCases {
		name := c.method + " " + c.target + " " + strings.Join(c.header, " ")
		wr, wbody := rawRequest(t, wcAddr, c.method, c.target, c.header, c.body)
		if c.pyStatus == -1 {
			if pr, _, err := tryRequest(pyAddr, c.method, c.target, c.header, c.body); err == nil {
				t.Errorf("%s: http.server now answers (%s): the difference is gone", name, pr.Status)
			}
			if wr.StatusCode != c.status || strings.Contains(wbody, "OUTSIDE-THE-SITE") {
				t.Errorf("%s: warmcgi %d (want %d):\n%s", name, wr.StatusCode, c.status, wbody)
			}
			continue
		}
		pr, pbody := rawRequest(t, pyAddr, c.method, c.target, c.header, c.body)
		pyWant := c.status
		if c.pyStatus != 0 {
			pyWant = c.pyStatus
		}
		if wr.StatusCode != c.status || pr.StatusCode != pyWant {
			t.Errorf("%s: warmcgi %d (want %d), http.server %d (want %d)\nwarmcgi body: %.300s\nhttp.server body: %.300s",
				name, wr.StatusCode, c.status, pr.StatusCode, pyWant, wbody, pbody)
			continue
		}
		if q := strings.Index(c.target, "?"); q >= 0 && strings.HasPrefix(c.target, "/noindex/") {
			// Older http.server releases (3.11.2, 3.13.0) put the query in a
			// listing's title too; current ones (3.13.5) and warmcgi do not.
			old := "Directory listing for " + c.target[:q]
			if unq, err := url.PathUnescape(c.target[q:]); err == nil {
				esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(unq)
				pbody = strings.ReplaceAll(pbody, old+esc, old)
			}
			pr.Header.Set("Content-Length", fmt.Sprint(len(pbody)))
		}
		if c.sameBody && wbody != pbody {
			t.Errorf("%s: bodies differ\nwarmcgi:\n%s\nhttp.server:\n%s", name, wbody, pbody)
		}
		for _, h := range []string{"Location", "Content-Length"} {
			if c.sameBody && (c.file != "" || wr.StatusCode == 301 || strings.HasPrefix(c.target, "/noindex/?") || c.target == "/noindex/") &&
				wr.Header.Get(h) != pr.Header.Get(h) {
				t.Errorf("%s: %s %q, http.server's %q", name, h, wr.Header.Get(h), pr.Header.Get(h))
			}
		}
		if c.file != "" {
			checkStaticHeaders(t, name, c.file, wr, pr)
		}
		if s := wr.Header.Get("Server"); s != "" {
			t.Errorf("%s: warmcgi sent Server: %q", name, s)
		}
		if !strings.HasPrefix(pr.Header.Get("Server"), "SimpleHTTP/") {
			t.Errorf("%s: http.server's Server header is %q", name, pr.Header.Get("Server"))
		}
		checkDifference(t, c, wr, pr, wbody, pbody)
	}
	// Scripts run in their own directory as under Apache; http.server
	// leaves them in its own (the directory served).
	_, wcwd := rawRequest(t, wcAddr, "GET", "/cgi-bin/cwd.py", nil, "")
	_, pcwd := rawRequest(t, pyAddr, "GET", "/cgi-bin/cwd.py", nil, "")
	if real := realDir(t, filepath.Join(site, "cgi-bin")); strings.TrimSpace(wcwd) != real || strings.TrimSpace(pcwd) != realDir(t, site) {
		t.Errorf("working directory of a script: warmcgi %q (want %q), http.server %q (want %q)", wcwd, real, pcwd, realDir(t, site))
	}
}

func realDir(t *testing.T, dir string) string {
	r, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkStaticHeaders compares a static file's headers with http.server's
// and with the file: the same media type (warmcgi adds no charset either),
// length and Last-Modified.
func checkStaticHeaders(t *testing.T, name, file string, wr, pr *http.Response) {
	t.Helper()
	if w, p := wr.Header.Get("Content-Type"), pr.Header.Get("Content-Type"); w != p {
		wt, _, _ := mime.ParseMediaType(w)
		pt, _, _ := mime.ParseMediaType(p)
		t.Errorf("%s: Content-Type %q, http.server's %q (media types %q, %q)", name, w, p, wt, pt)
	}
	if lm := wr.Header.Get("Last-Modified"); lm != siteLastModified || pr.Header.Get("Last-Modified") != lm {
		t.Errorf("%s: Last-Modified %q, http.server's %q, want %q", name, lm, pr.Header.Get("Last-Modified"), siteLastModified)
	}
	if wr.StatusCode == 200 && wr.Header.Get("Content-Length") != pr.Header.Get("Content-Length") {
		t.Errorf("%s: Content-Length %q, http.server's %q", name, wr.Header.Get("Content-Length"), pr.Header.Get("Content-Length"))
	}
	_ = file
}

// checkDifference asserts what each deliberate difference promises beyond
// the status: no source or outside file in warmcgi's body, the Allow and
// Content-Range headers, error pages that are Apache's.
func checkDifference(t *testing.T, c httpCase, wr, pr *http.Response, wbody, pbody string) {
	t.Helper()
	name := c.method + " " + c.target
	for _, secret := range []string{"import os", "DATA-NOT-FOR-CLIENTS", "OUTSIDE-THE-SITE", "hunter2"} {
		if strings.Contains(wbody, secret) {
			t.Errorf("%s: warmcgi's body shows %q:\n%s", name, secret, wbody)
		}
	}
	switch c.target {
	case "/src/env.py":
		if !strings.Contains(pbody, "import os") {
			t.Errorf("%s: http.server no longer serves the source by another path (the difference is gone?):\n%s", name, pbody)
		}
	case "/escape.txt":
		if !strings.Contains(pbody, "OUTSIDE-THE-SITE") {
			t.Errorf("%s: http.server did not follow the link:\n%s", name, pbody)
		}
	case "/cgi-bin/ctype.py":
		if wbody != "None\n" || pbody != "'text/plain'\n" {
			t.Errorf("%s: CONTENT_TYPE of a GET: warmcgi %q (want None), http.server %q (want 'text/plain')", name, wbody, pbody)
		}
	case "/cgi-bin/status.py":
		if wbody != "gone\n" || pbody != "gone\n" || pr.Header.Get("Status") != "404 Not Found" {
			t.Errorf("%s: warmcgi %q, http.server %q with Status header %q", name, wbody, pbody, pr.Header.Get("Status"))
		}
	}
	switch wr.StatusCode {
	case 206:
		if wbody != "hello" || wr.Header.Get("Content-Range") != "bytes 0-4/14" || pbody != "hello, static\n" {
			t.Errorf("%s: range %q (%s), http.server %q", name, wbody, wr.Header.Get("Content-Range"), pbody)
		}
	case 405:
		if wr.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: Allow %q", name, wr.Header.Get("Allow"))
		}
	case 403, 404, 500:
		if c.target == "/cgi-bin/status.py" {
			break // the script's own 404
		}
		if !strings.Contains(wbody, "<title>"+strconv.Itoa(wr.StatusCode)+" ") || pr.StatusCode >= 400 && !strings.Contains(pbody, "Error response") {
			t.Errorf("%s: error pages: warmcgi's is not Apache's or http.server's is not its own:\n%s\n%s", name, wbody, pbody)
		}
	}
}

// TestServeStatic: serve --static beside a cgi-bin that lies inside the
// document root but is mounted elsewhere (--prefix /scripts/), as
// DocumentRoot + ScriptAlias: the scripts run under their prefix, their
// source is never served under the directory's own name, conditional and
// range requests work, directories without an index are 403 (no
// --static-listing), DOCUMENT_ROOT is the document root, and static
// requests reach the access log.
func TestServeStatic(t *testing.T) {
	site, _ := makeSite(t)
	scripts := filepath.Join(site, "cgi-bin")
	if err := os.WriteFile(filepath.Join(scripts, "docroot.py"), []byte("#!/usr/bin/env python3\nimport os\nprint('Content-Type: text/plain')\nprint()\nprint(os.environ['DOCUMENT_ROOT'])\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := startWarmcgiProcess(t, scripts, "--static", site, "--prefix", "/scripts/", "--access-log", "-")
	addr := strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/")
	get := func(target string, header ...string) (*http.Response, string) {
		return rawRequest(t, addr, "GET", target, header, "")
	}

	if r, b := get("/scripts/env.py?x=1"); r.StatusCode != 200 || !strings.Contains(b, "QUERY_STRING = x=1") {
		t.Errorf("script under --prefix: %d\n%s", r.StatusCode, b)
	}
	if r, b := get("/scripts/docroot.py"); r.StatusCode != 200 || strings.TrimSpace(b) != site {
		t.Errorf("DOCUMENT_ROOT: %d %q, want %q", r.StatusCode, b, site)
	}
	for _, target := range []string{"/cgi-bin/env.py", "/cgi-bin/data.txt", "/src/env.py", "/cgi-bin/", "/%63gi-bin/env.py"} {
		r, b := get(target)
		if r.StatusCode != 403 || strings.Contains(b, "import os") || strings.Contains(b, "DATA-NOT") {
			t.Errorf("%s (a script directory's file by its own name): %d, want 403 and no source:\n%s", target, r.StatusCode, b)
		}
	}
	if r, b := get("/"); r.StatusCode != 200 || !strings.Contains(b, "<title>home</title>") || r.Header.Get("Content-Type") != "text/html" {
		t.Errorf("index.html: %d %q\n%s", r.StatusCode, r.Header.Get("Content-Type"), b)
	}
	if r, _ := get("/noindex/"); r.StatusCode != 403 {
		t.Errorf("a directory without index.html and no --static-listing: %d, want 403", r.StatusCode)
	}
	if r, b := get("/a.txt", "If-Modified-Since: "+siteLastModified); r.StatusCode != 304 || b != "" {
		t.Errorf("If-Modified-Since the file's time: %d %q, want 304", r.StatusCode, b)
	}
	if r, b := get("/a.txt", "If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT"); r.StatusCode != 200 || b != "hello, static\n" {
		t.Errorf("If-Modified-Since before the file's time: %d %q, want 200", r.StatusCode, b)
	}
	if r, b := get("/a.txt", "Range: bytes=7-12"); r.StatusCode != 206 || b != "static" || r.Header.Get("Content-Range") != "bytes 7-12/14" {
		t.Errorf("Range: %d %q %q, want 206 \"static\"", r.StatusCode, b, r.Header.Get("Content-Range"))
	}
	if r, b := get("/a.txt", "Range: bytes=7-12", "If-Range: Mon, 01 Jan 2024 00:00:00 GMT"); r.StatusCode != 200 || b != "hello, static\n" {
		t.Errorf("Range with a stale If-Range: %d %q, want the whole file", r.StatusCode, b)
	}
	if r, _ := get("/a.txt", "Range: bytes=100-"); r.StatusCode != 416 {
		t.Errorf("unsatisfiable Range: %d, want 416", r.StatusCode)
	}
	if r, b := rawRequest(t, addr, "HEAD", "/a.txt", nil, ""); r.StatusCode != 200 || b != "" || r.Header.Get("Content-Length") != "14" {
		t.Errorf("HEAD: %d %q Content-Length %q", r.StatusCode, b, r.Header.Get("Content-Length"))
	}
	for _, target := range []string{"/.secret", "/escape.txt", "/../outside.txt"} {
		if r, b := get(target); r.StatusCode < 400 || strings.Contains(b, "hunter2") || strings.Contains(b, "OUTSIDE") {
			t.Errorf("%s: %d\n%s", target, r.StatusCode, b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if missing := waitForLog(ctx, p.stdout.String, `"GET /a.txt HTTP/1.0" 206 6`, `"GET /noindex/ HTTP/1.0" 403 `); len(missing) > 0 {
		t.Errorf("access log lacks %q:\n%s", missing, p.stdout.String())
	}
	if !strings.Contains(p.stderr.String(), "a script's source is never served") {
		t.Errorf("no log line for the refused script source:\n%s", p.stderr.String())
	}
}

// TestServeStaticInsideScripts: command lines where --static cannot work
// are refused with exit status 2: a --static directory inside the script
// directory (it would serve scripts as files), --prefix / (no path left
// for files), --static-listing alone.
func TestServeStaticInsideScripts(t *testing.T) {
	site, _ := makeSite(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", site, "--static", filepath.Join(site, "sub")}, "lies in the script directory"},
		{[]string{"serve", filepath.Join(site, "cgi-bin"), "--static", site, "--prefix", "/"}, "--prefix other than /"},
		{[]string{"serve", filepath.Join(site, "cgi-bin"), "--static-listing"}, "--static-listing needs --static"},
	} {
		args := append(c.args, "--listen", "127.0.0.1:0")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a server that started anyway
		out, err := exec.CommandContext(ctx, warmcgiBin, append(args, privilegeArgs(site, nil)...)...).CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), c.want) {
			t.Errorf("%q: want exit status %d and %q, got %v:\n%s", c.args, exitUsage, c.want, err, out)
		}
	}
}

// TestHTTPArgs: warmcgi http's positional [DIR] [PORT], as http.server's
// [port] with a directory beside it, and the default port 8000.
func TestHTTPArgs(t *testing.T) {
	wd, _ := os.Getwd()
	for _, c := range []struct {
		args      []string
		directory string
		dir, port string
		bad       bool
	}{
		{dir: wd, port: "8000"},
		{args: []string{"8080"}, dir: wd, port: "8080"},
		{args: []string{"site"}, dir: "site", port: "8000"},
		{args: []string{"site", "0"}, dir: "site", port: "0"},
		{args: []string{"9000", "site"}, dir: "site", port: "9000"},
		{args: []string{"7"}, directory: "d", dir: "d", port: "7"},
		{args: []string{"70000"}, dir: "70000", port: "8000"}, // not a port: a directory
		{args: []string{"1", "2"}, bad: true},
		{args: []string{"a", "b"}, bad: true},
		{args: []string{"a"}, directory: "d", bad: true},
	} {
		dir, port, err := httpArgs(c.args, c.directory)
		if (err != nil) != c.bad || !c.bad && (dir != c.dir || port != c.port) {
			t.Errorf("httpArgs(%q, %q) = %q, %q, %v", c.args, c.directory, dir, port, err)
		}
	}
	// Through the binary: a bad command line is exit status 2 with the usage.
	out, err := exec.Command(warmcgiBin, "http", "1", "2").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "two ports") || !strings.Contains(string(out), "--bind") {
		t.Errorf("warmcgi http 1 2: %v\n%s", err, out)
	}
}

// TestHTTPNoScriptsYet: like http.server, warmcgi http serves a directory
// that has no cgi-bin/ (its static files), and runs the scripts of one
// made while it serves.
func TestHTTPNoScriptsYet(t *testing.T) {
	site, _ := makeSite(t)
	bare := filepath.Join(filepath.Dir(site), "bare")
	if err := os.Mkdir(bare, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bare, "a.txt"), []byte("static only\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, p := startWarmcgiCmd(t, bare, "http", "--directory", bare, "0")
	if r, b := rawRequest(t, addr, "GET", "/a.txt", nil, ""); r.StatusCode != 200 || b != "static only\n" {
		t.Fatalf("static file: %d %q", r.StatusCode, b)
	}
	// Each request is logged, as http.server logs them (without --access-log).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if missing := waitForLog(ctx, p.stderr.String, "msg=request method=GET path=/a.txt status=200"); len(missing) > 0 {
		t.Errorf("no log record of the static request:\n%s", p.stderr.String())
	}
	if r, _ := rawRequest(t, addr, "GET", "/cgi-bin/env.py", nil, ""); r.StatusCode != 404 {
		t.Fatalf("no cgi-bin yet: %d, want 404", r.StatusCode)
	}
	if err := os.Rename(filepath.Join(site, "cgi-bin"), filepath.Join(bare, "cgi-bin")); err != nil {
		t.Fatal(err)
	}
	if r, b := rawRequest(t, addr, "GET", "/cgi-bin/env.py?late=1", nil, ""); r.StatusCode != 200 || !strings.Contains(b, "QUERY_STRING = late=1") {
		t.Fatalf("a cgi-bin made while serving: %d\n%s", r.StatusCode, b)
	}
}
