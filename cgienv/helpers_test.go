package cgienv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runnerFunc adapts a function to the Runner interface.
type runnerFunc func(ctx context.Context, req *Request) (*Output, error)

func (f runnerFunc) Run(ctx context.Context, req *Request) (*Output, error) { return f(ctx, req) }

// echoOutput is what the echo runner answers: the environment it got, one
// sorted NAME=value line each, then ARGV and STDIN, like testdata's env.py.
func echoOutput(req *Request) *Output {
	var b strings.Builder
	b.WriteString("Content-Type: text/plain\n\n")
	env := slices.Clone(req.Env)
	slices.Sort(env)
	for _, e := range env {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "ARGV=%q\n", req.Args)
	fmt.Fprintf(&b, "STDIN=%q\n", req.Stdin)
	return &Output{Stdout: []byte(b.String())}
}

// parseEcho turns an echo body back into a map; ARGV and STDIN included.
func parseEcho(t *testing.T, body string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for line := range strings.Lines(body) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		if !ok {
			t.Fatalf("echo line without '=': %q", line)
		}
		if _, dup := m[k]; dup {
			t.Errorf("variable %s appears twice", k)
		}
		m[k] = v
	}
	return m
}

// envMap turns an environment into a map, failing on duplicate names.
func envMap(t *testing.T, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, e := range env {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			t.Fatalf("entry without '=': %q", e)
		}
		if _, dup := m[k]; dup {
			t.Errorf("variable %s appears twice in %q", k, env)
		}
		m[k] = v
	}
	return m
}

// scripts is a fake runner that answers by the script's base name. A
// script whose entry is nil gets the echo output. It counts the runs.
type scripts struct {
	mu      sync.Mutex
	outputs map[string]func(*Request) (*Output, error)
	runs    atomic.Int32
	last    []*Request
}

func (s *scripts) Run(_ context.Context, req *Request) (*Output, error) {
	s.runs.Add(1)
	s.mu.Lock()
	s.last = append(s.last, req)
	f, ok := s.outputs[filepath.Base(req.Script)]
	s.mu.Unlock()
	if !ok || f == nil {
		return echoOutput(req), nil
	}
	return f(req)
}

// canned returns a script answering with a fixed stdout.
func canned(stdout string) func(*Request) (*Output, error) {
	return func(*Request) (*Output, error) { return &Output{Stdout: []byte(stdout)}, nil }
}

// logRecorder is a slog.Handler that keeps every record, for assertions.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}

// find returns the attributes of the first record with message msg.
func (l *logRecorder) find(msg string) (slog.Level, map[string]string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.Message == msg {
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool {
				attrs[a.Key] = a.Value.String()
				return true
			})
			return r.Level, attrs, true
		}
	}
	return 0, nil, false
}

// waitFind is find for records written after the response was sent.
func (l *logRecorder) waitFind(t *testing.T, msg string) (slog.Level, map[string]string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if lvl, attrs, ok := l.find(msg); ok {
			return lvl, attrs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log record %q", msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// makeTree creates a served directory and a directory outside it:
//
//	root/env.py             executable (any script name the tests use is
//	                        created on demand by addScript)
//	root/config.ini         not executable
//	root/sub/env.py, root/sub/deeper/
//	root/.hidden/env.py, root/.env, root/.git/config, root/__pycache__/x.py
//	root/linkin.py -> env.py, root/linkout.py -> outside/evil.py,
//	root/linkdir -> outside, root/dangling.py -> missing
//	outside/evil.py
func makeTree(t testing.TB) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "cgi-bin")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{root, outside, root + "/sub/deeper", root + "/.hidden", root + "/.git", root + "/__pycache__"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := []string{"env.py", "sub/env.py", ".hidden/env.py", ".env", ".git/config", "__pycache__/x.py",
		"my script.py", "é.py", "noext"}
	for _, f := range exe {
		writeFile(t, filepath.Join(root, f), 0o755)
	}
	writeFile(t, filepath.Join(root, "config.ini"), 0o644)
	writeFile(t, filepath.Join(outside, "evil.py"), 0o755)
	for link, target := range map[string]string{
		"linkin.py":   "env.py",
		"linkout.py":  filepath.Join(outside, "evil.py"),
		"linkdir":     outside,
		"dangling.py": "missing.py",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func writeFile(t testing.TB, name string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, []byte("#!/usr/bin/python3\nprint('x')\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
}

// addScripts creates executable files for the given script names.
func addScripts(t testing.TB, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		writeFile(t, filepath.Join(root, n), 0o755)
	}
}

// rawRequest sends raw bytes to addr and returns everything read until
// the server closes the connection.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading response: %v (got %q)", err, b)
	}
	return string(b)
}

// rawStatusLine sends a raw request and returns the status line and the
// whole response; the response need not end the connection.
func rawStatusLine(t *testing.T, addr, req string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, req)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(line, "\r\n")
}

// newServer starts the handler on a test server.
func newServer(t *testing.T, h *Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// noRedirects is a client that returns redirects instead of following them.
var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do performs a request and returns the response with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}
