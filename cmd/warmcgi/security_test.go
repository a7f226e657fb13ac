package main

// Security tests through the real binary over real HTTP: path containment
// with a corpus of hostile request-targets, environment hygiene with
// hostile headers and trusted proxies, the request and response limits,
// slow clients, the connection limit, and the privilege rules (README
// "Security", shared/SECURITY.md).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawExchange sends req as is on a new connection to the server at
// baseURL and returns the status code and everything read until the
// server closed the connection. net/http's client would clean the paths
// this file is about, so requests are written by hand.
func rawExchange(t *testing.T, baseURL, req string) (int, string) {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("writing request: %v", err)
	}
	b, err := io.ReadAll(conn)
	if err != nil && len(b) == 0 {
		t.Fatalf("reading response to %.80q: %v", req, err)
	}
	return statusOf(string(b)), string(b)
}

// statusOf reads the code of an HTTP/1.x status line; 0 if there is none.
func statusOf(resp string) int {
	line, _, _ := strings.Cut(resp, "\r\n")
	_, rest, ok := strings.Cut(line, " ")
	if !ok || len(rest) < 3 {
		return 0
	}
	code, err := strconv.Atoi(rest[:3])
	if err != nil {
		return 0
	}
	return code
}

// rawGet sends a GET for target (sent as is) and closes the connection.
func rawGet(t *testing.T, baseURL, target string) (int, string) {
	t.Helper()
	return rawExchange(t, baseURL, "GET "+target+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
}

// pyScript is the source of a CGI script that prints marker: if the
// server ever ran the file or served its source, marker would show.
func pyScript(marker string) string {
	return "#!/usr/bin/python3\nprint('Content-Type: text/plain')\nprint()\nprint('" + marker + "')\n"
}

// writeTree creates files (relative path -> content) with their modes
// under base, and the symbolic links (relative path -> target).
func writeTree(t *testing.T, base string, files map[string]string, modes map[string]os.FileMode, links map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode, ok := modes[name]
		if !ok {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// worldReadableDir returns a new temporary directory that every user can
// reach and read (t.TempDir's are private), for servers running as
// another user.
func worldReadableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// securityScripts returns a world-readable copy of testdata/security.
func securityScripts(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(worldReadableDir(t), "cgi-bin")
	if err := os.CopyFS(dst, os.DirFS("testdata/security")); err != nil {
		t.Fatal(err)
	}
	if err := filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() || strings.HasSuffix(p, ".py") {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	}); err != nil {
		t.Fatal(err)
	}
	return dst
}

// secretMarkers are in every file the traversal test plants where no
// response may show it: if one appears, a file outside DIR, a hidden or
// backup file, or a data file was run or served.
var secretMarkers = []string{"SECRET-", "root:x:0:0", "#!/usr/bin/python3", "print("}

// TestSecurityTraversal sends a corpus of hostile request-targets to the
// real server and checks each gets the expected refusal and that nothing
// of a planted file, outside DIR or hidden inside it, ever appears.
func TestSecurityTraversal(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "cgi-bin")
	writeTree(t, base, map[string]string{
		"secret.txt":      "SECRET-OUTSIDE-TXT\n",
		"secret.py":       pyScript("SECRET-OUTSIDE-PY"),
		"outside/evil.py": pyScript("SECRET-OUTSIDE-EVIL"),

		"cgi-bin/hello.py":     pyScript("hello from inside"),
		"cgi-bin/sub/inner.py": pyScript("inner script"),
		"cgi-bin/.env":         pyScript("SECRET-DOTENV") + "DB_PASSWORD=SECRET-DOTENV-VALUE\n",
		"cgi-bin/config.ini":   "[db]\npassword = SECRET-CONFIG-INI\n",
		"cgi-bin/data.txt":     "SECRET-DATA-TXT is not Python\n",
		"cgi-bin/mylib.py":     "SECRET_TOKEN = 'SECRET-LIBRARY'\n",

		"cgi-bin/hello.py~":                         pyScript("SECRET-BACKUP-TILDE"),
		"cgi-bin/hello.py.bak":                      pyScript("SECRET-BACKUP-BAK"),
		"cgi-bin/hello.py.orig":                     pyScript("SECRET-BACKUP-ORIG"),
		"cgi-bin/hello.py.old":                      pyScript("SECRET-BACKUP-OLD"),
		"cgi-bin/hello.py.swp":                      pyScript("SECRET-BACKUP-SWP"),
		"cgi-bin/.hello.py.swp":                     pyScript("SECRET-BACKUP-DOTSWP"),
		"cgi-bin/#hello.py#":                        pyScript("SECRET-BACKUP-EMACS"),
		"cgi-bin/hello.pyc":                         pyScript("SECRET-BYTECODE"),
		"cgi-bin/HELLO.PY.BAK":                      pyScript("SECRET-BACKUP-UPPER"),
		"cgi-bin/sub.bak/inner.py":                  pyScript("SECRET-BACKUP-DIR"),
		"cgi-bin/.git/config":                       pyScript("SECRET-GIT-CONFIG"),
		"cgi-bin/.git/hooks/x.py":                   pyScript("SECRET-GIT-HOOK"),
		"cgi-bin/.htaccess":                         pyScript("SECRET-HTACCESS"),
		"cgi-bin/__pycache__/hello.cpython-311.pyc": pyScript("SECRET-PYCACHE"),
	}, map[string]os.FileMode{
		"secret.txt": 0o644, "cgi-bin/config.ini": 0o644, "cgi-bin/mylib.py": 0o644,
	}, map[string]string{
		"cgi-bin/link-out.py": "../secret.py",
		"cgi-bin/link-dir":    "../outside",
		"cgi-bin/link-abs":    "/etc/passwd",
		"cgi-bin/link-in.py":  "hello.py",
	})
	base1, logs := startWarmcgi(t, dir)

	const ok = "hello from inside"
	tests := []struct {
		target string
		status []int  // any of these
		body   string // when the status is 200: what the body must hold
	}{
		// Dot segments, plain and encoded.
		{target: "/cgi-bin/../secret.txt", status: []int{404}},
		{target: "/cgi-bin/../secret.py", status: []int{404}},
		{target: "/cgi-bin/%2e%2e/secret.py", status: []int{404}},
		{target: "/cgi-bin/%2E%2E/secret.py", status: []int{404}},
		{target: "/cgi-bin/.%2e/secret.py", status: []int{404}},
		{target: "/cgi-bin/%2e./secret.py", status: []int{404}},
		{target: "/cgi-bin/./../secret.py", status: []int{404}},
		{target: "/cgi-bin/sub/../../secret.py", status: []int{404}},
		{target: "/cgi-bin/sub/%2e%2e/%2e%2e/secret.py", status: []int{404}},
		{target: "/cgi-bin/hello.py/../../secret.py", status: []int{404}},
		{target: "/cgi-bin/hello.py/%2e%2e/%2e%2e/secret.py", status: []int{404}},
		{target: "/cgi-bin/hello.py;/../../secret.py", status: []int{404}},
		{target: "//cgi-bin/../secret.py", status: []int{404}},
		{target: "/cgi-bin//..//secret.py", status: []int{404}},
		{target: "/cgi-bin/link-in.py/../../outside/evil.py", status: []int{404}},
		{target: "/cgi-bin/../../../../etc/passwd", status: []int{400}},
		{target: "/cgi-bin/%2e%2e/%2e%2e/%2e%2e/etc/passwd", status: []int{400}},
		{target: "/../secret.py", status: []int{400}},
		{target: "/cgi-bin/" + strings.Repeat("../", 40) + "etc/passwd", status: []int{400}},
		// Encoded slashes and backslashes.
		{target: "/cgi-bin/..%2fsecret.py", status: []int{404}},
		{target: "/cgi-bin/..%2Fsecret.py", status: []int{404}},
		{target: "/cgi-bin/%2e%2e%2fsecret.py", status: []int{404}},
		{target: "/cgi-bin/hello.py%2f..%2f..%2fsecret.py", status: []int{404}},
		{target: `/cgi-bin/..\secret.py`, status: []int{404}},
		{target: `/cgi-bin/..\..\..\etc\passwd`, status: []int{404}},
		{target: "/cgi-bin/..%5csecret.py", status: []int{404}},
		{target: "/cgi-bin/%5c..%5csecret.py", status: []int{404}},
		{target: "/cgi-bin/%2e%2e%5c%2e%2e%5csecret.py", status: []int{404}},
		// Double encoding (decoded once: names, not dots) and CVE-2021-42013.
		{target: "/cgi-bin/%252e%252e/secret.py", status: []int{404}},
		{target: "/cgi-bin/%252e%252e%252fsecret.py", status: []int{404}},
		{target: "/cgi-bin/%%32%65%%32%65/secret.py", status: []int{400}},
		{target: "/cgi-bin/.%%32%65/secret.py", status: []int{400}},
		{target: "/cgi-bin/%u002e%u002e/secret.py", status: []int{400}},
		// NUL bytes.
		{target: "/cgi-bin/hello.py%00.txt", status: []int{404}},
		{target: "/cgi-bin/%00../secret.py", status: []int{404}},
		{target: "/cgi-bin/hello.py/..%00/secret.py", status: []int{404}},
		{target: "/cgi-bin/hello.py\x00/../../secret.py", status: []int{400}},
		// Overlong and look-alike UTF-8 dots and slashes are just bytes.
		{target: "/cgi-bin/%c0%ae%c0%ae/secret.py", status: []int{404}},
		{target: "/cgi-bin/%c0%af..%c0%afsecret.py", status: []int{404}},
		{target: "/cgi-bin/%e0%80%ae%e0%80%ae/secret.py", status: []int{404}},
		{target: "/cgi-bin/%c1%9c..%c1%9csecret.py", status: []int{404}},
		{target: "/cgi-bin/%ef%bc%8e%ef%bc%8e/secret.py", status: []int{404}},
		// Odd dot names that are not dot segments.
		{target: "/cgi-bin/..;/secret.py", status: []int{404}},
		{target: "/cgi-bin/.../secret.py", status: []int{404}},
		{target: "/cgi-bin/....//secret.py", status: []int{404}},
		{target: "/cgi-bin/C:/secret.py", status: []int{404}},
		// Absolute-form and the asterisk.
		{target: "http://127.0.0.1/cgi-bin/../secret.py", status: []int{404}},
		{target: "http://evil.example/cgi-bin/%2e%2e/secret.py", status: []int{404}},
		{target: "*", status: []int{400}},
		// Symbolic links out of DIR.
		{target: "/cgi-bin/link-out.py", status: []int{404}},
		{target: "/cgi-bin/link-out.py/x", status: []int{404}},
		{target: "/cgi-bin/link-dir/evil.py", status: []int{404}},
		{target: "/cgi-bin/link-abs", status: []int{404}},
		{target: "/cgi-bin/link-abs/x", status: []int{404}},
		// Hidden files and directories.
		{target: "/cgi-bin/.env", status: []int{404}},
		{target: "/cgi-bin/%2eenv", status: []int{404}},
		{target: "/cgi-bin/sub/../.env", status: []int{404}},
		{target: "/cgi-bin/.git/config", status: []int{404}},
		{target: "/cgi-bin/.git/hooks/x.py", status: []int{404}},
		{target: "/cgi-bin/.htaccess", status: []int{404}},
		{target: "/cgi-bin/__pycache__/hello.cpython-311.pyc", status: []int{404}},
		// Editor backups, temporary and bytecode files.
		{target: "/cgi-bin/hello.py~", status: []int{404}},
		{target: "/cgi-bin/hello.py%7E", status: []int{404}},
		{target: "/cgi-bin/hello.py.bak", status: []int{404}},
		{target: "/cgi-bin/HELLO.PY.BAK", status: []int{404}},
		{target: "/cgi-bin/hello.py.orig", status: []int{404}},
		{target: "/cgi-bin/hello.py.old", status: []int{404}},
		{target: "/cgi-bin/hello.py.swp", status: []int{404}},
		{target: "/cgi-bin/.hello.py.swp", status: []int{404}},
		{target: "/cgi-bin/%23hello.py%23", status: []int{404}},
		{target: "/cgi-bin/hello.pyc", status: []int{404}},
		{target: "/cgi-bin/sub.bak/inner.py", status: []int{404}},
		// Data files and modules in DIR: Apache's 500, never their content.
		{target: "/cgi-bin/config.ini", status: []int{500}},
		{target: "/cgi-bin/config.ini/x", status: []int{500}},
		{target: "/cgi-bin/mylib.py", status: []int{500}},
		{target: "/cgi-bin/data.txt", status: []int{500}},
		{target: "/cgi-bin/", status: []int{403}},
		{target: "/cgi-bin/sub/", status: []int{403}},
		// Hostile-looking paths that stay inside DIR resolve normally.
		{target: "/cgi-bin/sub/../hello.py", status: []int{200}, body: ok},
		{target: "/cgi-bin/%2e/hello.py", status: []int{200}, body: ok},
		{target: "/cgi-bin/sub/%2e%2e/hello.py/x/%2e%2e", status: []int{200}, body: ok},
		{target: "/cgi-bin/hello.py?/../../secret.py", status: []int{200}, body: ok},
		{target: "/cgi-bin/link-in.py", status: []int{200}, body: ok},
		{target: "/cgi-bin/sub/inner.py", status: []int{200}, body: "inner script"},
	}
	hostile := 0
	for _, tt := range tests {
		if tt.status[0] != 200 {
			hostile++
		}
		code, resp := rawGet(t, base1, tt.target)
		found := false
		for _, s := range tt.status {
			found = found || code == s
		}
		if !found {
			t.Errorf("GET %q: status %d; want %v\n%.300s", tt.target, code, tt.status, resp)
		}
		if tt.body != "" && !strings.Contains(resp, tt.body) {
			t.Errorf("GET %q: body lacks %q:\n%.300s", tt.target, tt.body, resp)
		}
		for _, m := range secretMarkers {
			if strings.Contains(resp, m) {
				t.Errorf("GET %q: response shows %q, from a file it must not run or serve:\n%.500s", tt.target, m, resp)
			}
		}
	}
	if hostile < 50 {
		t.Errorf("the corpus has %d hostile targets; keep at least 50", hostile)
	}
	if t.Failed() {
		t.Logf("server log:\n%s", logs())
	}

	// The detection works: with --follow-symlinks the link out is a
	// script again, and its secret shows.
	base2, _ := startWarmcgi(t, dir, "--follow-symlinks")
	if code, resp := rawGet(t, base2, "/cgi-bin/link-out.py"); code != 200 || !strings.Contains(resp, "SECRET-OUTSIDE-PY") {
		t.Errorf("with --follow-symlinks, link-out.py: %d %.300q; want 200 with the outside script's output", code, resp)
	}
}

// envOf runs env.py from testdata/cgi-bin with the given extra request
// header lines and returns the environment it printed.
func envOf(t *testing.T, baseURL string, headers ...string) map[string]string {
	t.Helper()
	req := "GET /cgi-bin/env.py HTTP/1.1\r\nHost: backend:8080\r\nConnection: close\r\n" + strings.Join(headers, "") + "\r\n"
	code, resp := rawExchange(t, baseURL, req)
	if code != 200 {
		t.Fatalf("env.py: status %d\n%s", code, resp)
	}
	_, body, _ := strings.Cut(resp, "\r\n\r\n")
	env := map[string]string{}
	for line := range strings.Lines(body) {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "="); ok {
			env[k] = v
		}
	}
	return env
}

// TestSecurityRequestHeaders: hostile request headers reach scripts only
// as harmless HTTP_* variables, and X-Forwarded-* change REMOTE_ADDR,
// HTTPS and SERVER_NAME only with --trusted-proxy naming the peer.
func TestSecurityRequestHeaders(t *testing.T) {
	dir := testdataCGIBin(t)
	hostile := []string{
		"Proxy: http://evil.example:3128\r\n",
		"Authorization: Basic YWRtaW46c2VjcmV0\r\n",
		"Proxy-Authorization: Basic YWRtaW46c2VjcmV0\r\n",
		"Remote-User: admin\r\n",
		"X_Forwarded_For: 6.6.6.6\r\n",
		"X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\n",
		"X-Forwarded-Proto: https\r\n",
		"X-Forwarded-Host: www.example.com\r\n",
	}
	check := func(t *testing.T, env map[string]string, want map[string]string, absent ...string) {
		t.Helper()
		for k, v := range want {
			if got, ok := env[k]; !ok || got != v {
				t.Errorf("%s = %q (set: %v); want %q", k, got, ok, v)
			}
		}
		for _, k := range absent {
			if v, ok := env[k]; ok {
				t.Errorf("%s = %q; want it absent", k, v)
			}
		}
	}
	never := []string{"HTTP_PROXY", "REMOTE_USER", "AUTH_TYPE", "HTTP_PROXY_AUTHORIZATION"}

	t.Run("defaults", func(t *testing.T) {
		base, _ := startWarmcgi(t, dir)
		env := envOf(t, base, hostile...)
		check(t, env, map[string]string{
			"REMOTE_ADDR": "127.0.0.1", "REQUEST_SCHEME": "http", "SERVER_NAME": "backend", "SERVER_PORT": "8080",
			"HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9", "HTTP_X_FORWARDED_PROTO": "https",
			"HTTP_X_FORWARDED_HOST": "www.example.com", "HTTP_REMOTE_USER": "admin",
		}, append(never, "HTTP_AUTHORIZATION", "HTTPS")...)
		for k, v := range env {
			if strings.Contains(v, "6.6.6.6") && k != "HTTP_X_FORWARDED_FOR" {
				t.Errorf("the underscore header X_Forwarded_For reached %s=%q", k, v)
			}
		}
	})
	t.Run("pass authorization", func(t *testing.T) {
		base, _ := startWarmcgi(t, dir, "--pass-authorization")
		check(t, envOf(t, base, hostile...), map[string]string{"HTTP_AUTHORIZATION": "Basic YWRtaW46c2VjcmV0"},
			"HTTP_PROXY", "REMOTE_USER", "AUTH_TYPE")
	})
	t.Run("trusted proxy", func(t *testing.T) {
		base, _ := startWarmcgi(t, dir, "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "127.0.0.1")
		check(t, envOf(t, base, hostile...), map[string]string{
			"REMOTE_ADDR": "203.0.113.9", "HTTPS": "on", "REQUEST_SCHEME": "https", "SERVER_NAME": "www.example.com",
			"SERVER_PORT": "443", "HTTP_HOST": "backend:8080", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9",
		}, append(never, "HTTP_AUTHORIZATION")...)
		// A chain through another trusted proxy, which appended its own
		// scheme: the client's hop is the one that counts.
		check(t, envOf(t, base, "X-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.1.2.3\r\n",
			"X-Forwarded-Proto: http, https, http\r\n"),
			map[string]string{"REMOTE_ADDR": "203.0.113.9", "HTTPS": "on"})
	})
	t.Run("untrusted peer", func(t *testing.T) {
		base, _ := startWarmcgi(t, dir, "--trusted-proxy", "10.0.0.0/8")
		check(t, envOf(t, base, hostile...), map[string]string{
			"REMOTE_ADDR": "127.0.0.1", "REQUEST_SCHEME": "http", "SERVER_NAME": "backend",
		}, "HTTPS")
	})
}

// TestSecurityLimits: each request limit answers with its status through
// the real server, and requests just under it still work.
func TestSecurityLimits(t *testing.T) {
	dir := testdataCGIBin(t)
	base, _ := startWarmcgi(t, dir, "--max-body", "1KiB", "--max-header-bytes", "4KiB")
	post := func(body string, chunked bool) (int, string) {
		var req strings.Builder
		req.WriteString("POST /cgi-bin/stdin.py?read=all HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
		if chunked {
			req.WriteString("Transfer-Encoding: chunked\r\n\r\n")
			for chunk := range slicesChunk(body, 300) {
				fmt.Fprintf(&req, "%x\r\n%s\r\n", len(chunk), chunk)
			}
			req.WriteString("0\r\n\r\n")
		} else {
			fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n%s", len(body), body)
		}
		return rawExchange(t, base, req.String())
	}
	for _, tt := range []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"body at the limit", 1024, false, 200},
		{"body over the limit", 1025, false, 413},
		{"chunked body at the limit", 1024, true, 200},
		{"chunked body over the limit", 1025, true, 413},
		{"chunked body far over the limit", 64 << 10, true, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, resp := post(strings.Repeat("b", tt.size), tt.chunked)
			if code != tt.status {
				t.Errorf("status %d; want %d\n%.300s", code, tt.status, resp)
			}
			if code == 200 && !strings.Contains(resp, fmt.Sprintf("read %d bytes", tt.size)) {
				t.Errorf("the script did not get the whole body:\n%s", resp)
			}
		})
	}

	header := func(n int) string {
		return "GET /cgi-bin/hello.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + strings.Repeat("h", n) + "\r\n\r\n"
	}
	if code, resp := rawExchange(t, base, header(2<<10)); code != 200 {
		t.Errorf("2 KiB header under a 4 KiB limit: %d\n%.300s", code, resp)
	}
	if code, resp := rawExchange(t, base, header(16<<10)); code != 431 {
		t.Errorf("16 KiB header over a 4 KiB limit: %d; want 431\n%.300s", code, resp)
	}

	// The default URL limit, 8190 like Apache's LimitRequestLine, is
	// checked before the path is looked at. (Under the 4 KiB header
	// limit above, such a request line would already be a 431.)
	base, _ = startWarmcgi(t, dir)
	long := func(n int, prefix string) string { return prefix + strings.Repeat("a", n-len(prefix)) }
	if code, resp := rawGet(t, base, long(8190, "/cgi-bin/hello.py?")); code != 200 {
		t.Errorf("8190-byte target: %d\n%.300s", code, resp)
	}
	if code, resp := rawGet(t, base, long(8191, "/cgi-bin/hello.py?")); code != 414 {
		t.Errorf("8191-byte target: %d; want 414\n%.300s", code, resp)
	}
	if code, resp := rawGet(t, base, long(9000, "/cgi-bin/"+strings.Repeat("%2e%2e/", 10))); code != 414 {
		t.Errorf("9000-byte traversal: %d; want 414\n%.300s", code, resp)
	}
	small, _ := startWarmcgi(t, dir, "--max-url-length", "100")
	if code, resp := rawGet(t, small, long(101, "/cgi-bin/hello.py/")); code != 414 {
		t.Errorf("101-byte target with --max-url-length 100: %d; want 414\n%.300s", code, resp)
	}
}

// slicesChunk yields s in pieces of at most n bytes.
func slicesChunk(s string, n int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// TestSecurityResponseHeaders: a script's header lines are capped (500,
// logged) and a CR in a value never splits the response.
func TestSecurityResponseHeaders(t *testing.T) {
	base, logs := startWarmcgi(t, securityScripts(t))
	if code, resp := rawGet(t, base, "/cgi-bin/headers.py?255"); code != 200 || strings.Count(resp, "X-Echo") != 1 {
		t.Errorf("256 header lines (Content-Type and 255 X-Echo): %d, %d X-Echo lines; want 200 with them merged into one\n%.300s",
			code, strings.Count(resp, "X-Echo"), resp)
	}
	code, resp := rawGet(t, base, "/cgi-bin/headers.py?300")
	if code != 500 || strings.Contains(resp, "X-Echo") || strings.Contains(resp, "sent 300") {
		t.Errorf("300 header lines: %d; want 500 without the script's output\n%.300s", code, resp)
	}
	if missing := waitForLog(t.Context(), logs, "too many header lines from script"); missing != nil {
		t.Errorf("no log line for the 500:\n%s", logs())
	}

	code, resp = rawGet(t, base, "/cgi-bin/header_cr.py")
	head, body, _ := strings.Cut(resp, "\r\n\r\n")
	if code != 200 || body != "body\n" {
		t.Errorf("header_cr.py: %d\n%s", code, resp)
	}
	for line := range strings.SplitSeq(head, "\r\n") {
		name, _, _ := strings.Cut(line, ":")
		if strings.EqualFold(name, "Set-Cookie") || strings.EqualFold(name, "Location") || strings.ContainsRune(line, '\r') {
			t.Errorf("header_cr.py injected a header line %q", line)
		}
	}
	if !strings.Contains(head, "X-Injected: aSet-Cookie: evil=1\r\n") {
		t.Errorf("header_cr.py: X-Injected not sent as one value with the CR dropped:\n%s", head)
	}
}

// TestSecuritySlowloris: a client that sends its headers a byte at a time
// is cut off once --read-header-timeout has passed, however steadily it
// trickles.
func TestSecuritySlowloris(t *testing.T) {
	base, _ := startWarmcgi(t, testdataCGIBin(t), "--read-header-timeout", "1s")
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(conn) // until the server closes (or resets)
		closed <- b
	}()
	start := time.Now()
	msg := "GET /cgi-bin/hello.py HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("s", 200)
	for i := 0; i < len(msg); i++ {
		select {
		case b := <-closed:
			elapsed := time.Since(start)
			if elapsed < 900*time.Millisecond || elapsed > 4*time.Second {
				t.Errorf("cut off after %v; want about 1s", elapsed)
			}
			if bytes.Contains(b, []byte("Hello")) {
				t.Errorf("the slow request was answered: %q", b)
			}
			return
		default:
		}
		if _, err := conn.Write([]byte{msg[i]}); err != nil {
			elapsed := time.Since(start)
			if elapsed > 4*time.Second {
				t.Errorf("cut off after %v; want about 1s", elapsed)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("a client trickling headers for %v was not cut off", time.Since(start))
}

// TestSecurityIdleTimeout: an idle keep-alive connection is closed after
// --idle-timeout.
func TestSecurityIdleTimeout(t *testing.T) {
	base, _ := startWarmcgi(t, testdataCGIBin(t), "--idle-timeout", "1s")
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /cgi-bin/hello.py HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	idle := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = br.ReadByte()
	if elapsed := time.Since(idle); err == nil || errors.Is(err, os.ErrDeadlineExceeded) || elapsed > 5*time.Second {
		t.Errorf("idle connection: read returned %v after %v; want the server to close it after about 1s", err, elapsed)
	}
}

// TestSecurityWriteTimeout: a client that requests a streamed response
// and reads none of it is cut off after --write-timeout, which frees the
// only worker for the next client (without the timeout hello.py would wait
// behind it for ever), in a sub-interpreter and in a worker process.
func TestSecurityWriteTimeout(t *testing.T) {
	for _, mode := range []string{"auto", "process"} {
		t.Run(mode, func(t *testing.T) {
			base, logs := startWarmcgi(t, testdataCGIBin(t), "-w", "1", "--isolation", mode, "--write-timeout", "2s")
			u, _ := url.Parse(base)
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, "GET /cgi-bin/flood.py HTTP/1.1\r\nHost: x\r\n\r\n")
			time.Sleep(500 * time.Millisecond) // the flood has the worker
			start := time.Now()
			client := &http.Client{Timeout: 40 * time.Second}
			code, body, err := fetch(t, client, base+"cgi-bin/hello.py")
			if err != nil || code != 200 || body != "Hello, world!\n" {
				t.Fatalf("hello.py behind a client that reads nothing: %d %v %q after %v\n%s", code, err, body, time.Since(start), logs())
			}
			t.Logf("hello.py answered %v after the stalled client", time.Since(start))
			// The stalled connection was closed: what it still reads ends.
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.Copy(io.Discard, conn); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("reading the stalled response: %v, want its end", err)
			}
		})
	}
}

// TestSecurityMaxConnections: with --max-connections 2 and two idle
// connections open, a third is not served until one of them closes.
func TestSecurityMaxConnections(t *testing.T) {
	base, logs := startWarmcgi(t, testdataCGIBin(t), "--max-connections", "2")
	u, _ := url.Parse(base)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(200 * time.Millisecond)    // both accepted by now
	third, err := net.Dial("tcp", u.Host) // the kernel queues it
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	io.WriteString(third, "GET /cgi-bin/hello.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	if n, err := third.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection answered while two were open: %d bytes, %v", n, err)
	}
	if missing := waitForLog(t.Context(), logs, "connection limit reached"); missing != nil {
		t.Errorf("no warning about the connection limit:\n%s", logs())
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(third)
	if err != nil || statusOf(string(b)) != 200 {
		t.Errorf("third connection after one closed: %v, %.200q; want 200", err, b)
	}
}

// requireRoot skips tests that need root to switch users.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root (CI runs as root)")
	}
}

// runWarmcgi runs warmcgi to completion (it must exit on its own, within
// 20 s) and returns its exit code and output.
func runWarmcgi(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(warmcgiBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String()
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("warmcgi %q did not exit within 20s (it should have refused to start):\n%s", args, out.String())
		return 0, ""
	}
}

// TestSecurityUser: as root, --user nobody really runs the scripts (and
// every thread of the server) as nobody with nobody's groups, with a
// private bytecode cache under $TMPDIR, and root cannot be regained.
func TestSecurityUser(t *testing.T) {
	requireRoot(t)
	requirePythonReachable(t)
	nobody, err := testUser("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o1777); err != nil { // like /tmp
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	p := startWarmcgiProcess(t, securityScripts(t), "--user", "nobody")

	code, _, body := get(t, p.url+"cgi-bin/whoami.py")
	want := fmt.Sprintf("uid=%d euid=%d gid=%d egid=%d\n", nobody.uid, nobody.uid, nobody.gid, nobody.gid)
	if code != 200 || !strings.Contains(body, want) || !strings.Contains(body, "setuid0=no") {
		t.Errorf("whoami.py: %d\n%s\nwant %q and setuid0=no", code, body, want)
	}
	var groups []string
	for _, g := range nobody.groups {
		groups = append(groups, strconv.Itoa(g))
	}
	if !strings.Contains(body, "groups="+strings.Join(groups, ",")+"\n") {
		t.Errorf("whoami.py groups: %s; want %v", body, groups)
	}

	// Every thread of the process, not just the one that switched.
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", p.cmd.Process.Pid))
	if err != nil || len(tasks) < 2 {
		t.Fatalf("threads of the server: %v, %v", tasks, err)
	}
	id := strconv.Itoa(nobody.uid)
	gid := strconv.Itoa(nobody.gid)
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue // the thread ended
		}
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			switch {
			case len(f) == 5 && f[0] == "Uid:" && (f[1] != id || f[2] != id || f[3] != id || f[4] != id),
				len(f) == 5 && f[0] == "Gid:" && (f[1] != gid || f[2] != gid || f[3] != gid || f[4] != gid),
				len(f) > 0 && f[0] == "Groups:" && strings.Join(f[1:], ",") != strings.Join(groups, ","):
				t.Errorf("%s: %s", task, strings.TrimSpace(line))
			}
		}
	}

	cache := filepath.Join(tmp, "warmcgi-pycache-"+id)
	var st syscall.Stat_t
	if err := syscall.Lstat(cache, &st); err != nil {
		t.Fatalf("bytecode cache: %v", err)
	}
	if int(st.Uid) != nobody.uid || st.Mode&syscall.S_IFMT != syscall.S_IFDIR || st.Mode&0o777 != 0o700 {
		t.Errorf("bytecode cache %s: uid %d mode %#o; want a 0700 directory of uid %d", cache, st.Uid, st.Mode, nobody.uid)
	}
}

// TestSecurityUserUnsafeCache: a bytecode cache directory someone else
// prepared under $TMPDIR is not used.
func TestSecurityUserUnsafeCache(t *testing.T) {
	requireRoot(t)
	requirePythonReachable(t)
	nobody, err := testUser("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	planted := filepath.Join(tmp, "warmcgi-pycache-"+strconv.Itoa(nobody.uid))
	if err := os.Mkdir(planted, 0o777); err != nil { // root's, writable by all
		t.Fatal(err)
	}
	if err := os.Chmod(planted, 0o777); err != nil {
		t.Fatal(err)
	}
	p := startWarmcgiProcess(t, securityScripts(t), "--user", "nobody")
	if code, _, body := get(t, p.url+"cgi-bin/hello.py"); code != 200 || body != "hello from inside\n" {
		t.Errorf("hello.py: %d %q", code, body)
	}
	if logs := p.stderr.String(); !strings.Contains(logs, "no bytecode cache for helper modules") {
		t.Errorf("no warning about the planted cache directory:\n%s", logs)
	}
	if entries, _ := os.ReadDir(planted); len(entries) != 0 {
		t.Errorf("the planted cache directory was used: %v", entries)
	}

	// An explicit --pycache-dir the user does not own is an error, not a
	// silent fallback.
	rootOwned := worldReadableDir(t)
	code, out := runWarmcgi(t, "serve", securityScripts(t), "--listen", "127.0.0.1:0", "--user", "nobody", "--pycache-dir", rootOwned)
	if code != exitStartup || !strings.Contains(out, "--pycache-dir") {
		t.Errorf("--pycache-dir owned by root with --user nobody: exit %d; want %d naming the flag:\n%s", code, exitStartup, out)
	}
}

// TestSecurityRefusals: the command lines warmcgi refuses, each with exit
// code 2 and a message naming the flag that would allow it.
func TestSecurityRefusals(t *testing.T) {
	scripts := securityScripts(t)
	open := filepath.Join(worldReadableDir(t), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	root := privilegeArgs(open, nil) // --allow-root when the tests run as root
	tests := []struct {
		name string
		args []string
		want string
		root bool // only meaningful as root
	}{
		{name: "root", args: []string{"serve", scripts}, want: "--allow-root", root: true},
		{name: "user root", args: []string{"serve", scripts, "--user", "root"}, want: "--allow-root", root: true},
		{name: "uid 0", args: []string{"serve", scripts, "--user", "0"}, want: "--allow-root", root: true},
		{name: "unknown user", args: []string{"serve", scripts, "--user", "no-such-user-warmcgi"}, want: "--user"},
		{name: "world-writable dir", args: append([]string{"serve", open}, root...), want: "--allow-world-writable"},
		{name: "bad trusted proxy", args: []string{"serve", scripts, "--trusted-proxy", "10.0.0.0/33"}, want: "--trusted-proxy"},
		{name: "bad header limit", args: []string{"serve", scripts, "--max-header-bytes", "12"}, want: "--max-header-bytes"},
		{name: "negative url limit", args: []string{"serve", scripts, "--max-url-length", "-1"}, want: "cannot be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				requireRoot(t)
			}
			code, out := runWarmcgi(t, tt.args...)
			if code != exitUsage || !strings.Contains(out, tt.want) {
				t.Errorf("warmcgi %q: exit %d; want %d with %q in:\n%s", tt.args, code, exitUsage, tt.want, out)
			}
			if strings.Contains(out, "msg=listening") {
				t.Errorf("warmcgi %q listened before refusing", tt.args)
			}
		})
	}
}

// TestSecurityWorldWritable: --allow-world-writable serves a world-writable
// DIR; without it, a world-writable directory or script below DIR gives
// 500 and is not run.
func TestSecurityWorldWritable(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "cgi-bin")
	writeTree(t, base, map[string]string{
		"cgi-bin/hello.py":           pyScript("hello from inside"),
		"cgi-bin/uploads/planted.py": pyScript("PLANTED-RAN"),
		"cgi-bin/open.py":            pyScript("OPEN-RAN"),
	}, map[string]os.FileMode{"cgi-bin/open.py": 0o777}, nil)
	if err := os.Chmod(filepath.Join(dir, "uploads"), 0o777); err != nil {
		t.Fatal(err)
	}
	url1, _ := startWarmcgi(t, dir)
	for _, target := range []string{"/cgi-bin/uploads/planted.py", "/cgi-bin/open.py"} {
		if code, resp := rawGet(t, url1, target); code != 500 || strings.Contains(resp, "-RAN") {
			t.Errorf("GET %s: %d; want 500 without running it\n%.300s", target, code, resp)
		}
	}
	if code, resp := rawGet(t, url1, "/cgi-bin/hello.py"); code != 200 {
		t.Errorf("hello.py beside them: %d\n%.300s", code, resp)
	}

	url2, _ := startWarmcgi(t, dir, "--allow-world-writable")
	if code, resp := rawGet(t, url2, "/cgi-bin/uploads/planted.py"); code != 200 || !strings.Contains(resp, "PLANTED-RAN") {
		t.Errorf("with --allow-world-writable: %d\n%.300s", code, resp)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	url3, _ := startWarmcgi(t, dir, "--allow-world-writable")
	if code, resp := rawGet(t, url3, "/cgi-bin/hello.py"); code != 200 {
		t.Errorf("world-writable DIR with --allow-world-writable: %d\n%.300s", code, resp)
	}
}

// TestPycacheFallback: without --user, a default bytecode cache that
// cannot be created (a system account whose home is /nonexistent, as in
// the Docker image) moves to $TMPDIR instead of stopping the server.
func TestPycacheFallback(t *testing.T) {
	tmp := t.TempDir()
	notADir := filepath.Join(tmp, "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", notADir) // so the default cache cannot be made
	t.Setenv("HOME", notADir)
	cacheTmp := filepath.Join(tmp, "tmp")
	if err := os.Mkdir(cacheTmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", cacheTmp)
	var flags []string
	if os.Geteuid() == 0 {
		flags = append(flags, "--allow-root") // the cache belongs to the server's own user
	}
	p := startWarmcgiProcess(t, testdataCGIBin(t), flags...)
	if code, _, body := get(t, p.url+"cgi-bin/a/show.py"); code != 200 || !strings.HasPrefix(body, "config ") {
		t.Fatalf("a/show.py: %d %q", code, body)
	}
	cache := filepath.Join(cacheTmp, "warmcgi-pycache-"+strconv.Itoa(os.Getuid()))
	var pyc []string
	filepath.WalkDir(cache, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".pyc") {
			pyc = append(pyc, path)
		}
		return nil
	})
	if len(pyc) == 0 {
		t.Errorf("no bytecode under the fallback cache %s; log:\n%s", cache, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "bytecode cache moved to") {
		t.Errorf("the log does not say where the cache went:\n%s", p.stderr.String())
	}
}

// account is a user's ids as the tests expect the server to take them on.
type account struct {
	uid, gid int
	groups   []int // the primary group first, then the supplementary ones
}

// testUser looks a user up with os/user, independently of the server.
func testUser(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, err
	}
	var a account
	a.uid, _ = strconv.Atoi(u.Uid)
	a.gid, _ = strconv.Atoi(u.Gid)
	ids, err := u.GroupIds()
	if err != nil {
		return account{}, err
	}
	a.groups = []int{a.gid}
	for _, id := range ids {
		if g, _ := strconv.Atoi(id); g != a.gid {
			a.groups = append(a.groups, g)
		}
	}
	return a, nil
}
