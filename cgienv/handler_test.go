package cgienv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// handlerFixture is a served directory, a fake runner and a server.
type handlerFixture struct {
	root    string
	scripts *scripts
	logs    *logRecorder
	srv     string // base URL
	addr    string // host:port
}

func newFixture(t *testing.T, outputs map[string]func(*Request) (*Output, error), configure func(*Handler)) *handlerFixture {
	t.Helper()
	root, _ := makeTree(t)
	for name := range outputs {
		addScripts(t, root, name)
	}
	fx := &handlerFixture{root: root, scripts: &scripts{outputs: outputs}, logs: &logRecorder{}}
	h := &Handler{Root: root, Runner: fx.scripts, Logger: slog.New(fx.logs)}
	if configure != nil {
		configure(h)
	}
	srv := newServer(t, h)
	fx.srv = srv.URL
	u, _ := url.Parse(srv.URL)
	fx.addr = u.Host
	return fx
}

func TestHandlerResponses(t *testing.T) {
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		"hello.py":     canned("Content-Type: text/plain\r\n\r\nHello"),
		"noct.py":      canned("X-A: 1\n\n<html><body>sniff me</body></html>"),
		"noct":         canned("X-A: 1\n\n<html><body>sniff me</body></html>"),
		"noct.txt":     canned("X-A: 1\n\nplain"),
		"emptyct.py":   canned("Content-Type:\n\n<html>"),
		"status.py":    canned("Status: 404\nContent-Type: text/plain\n\nmissing"),
		"badstatus.py": canned("Status: abc\nContent-Type: text/plain\n\nok"),
		"malformed.py": canned("Content-Type: text/plain\nbogus line\n\nbody"),
		"eof.py":       canned("Content-Type: text/plain\n"),
		"te.py":        canned("Content-Type: text/plain\nTransfer-Encoding: chunked\n\n3\r\nabc\r\n0\r\n\r\n"),
		"cl.py":        canned("Content-Type: text/plain\nContent-Length: 3\n\n12345678"),
		"dup.py":       canned("Content-Type: text/plain\nX-Foo: bar\nX-Foo: baz\nSet-Cookie: a=1\nSet-Cookie: b=2\n\nbody"),
		"hop.py":       canned("Content-Type: text/plain\nConnection: close\nKeep-Alive: timeout=5\nUpgrade: h2c\n\nbody"),
		"abs.py":       canned("Location: http://example.com/x?a=1&b=<2>\nContent-Type: text/plain\nX-Extra: 1\nSet-Cookie: s=1\n\nscript body"),
		"rel.py":       canned("Location: relative/x\n\nscript body"),
		"302.py":       canned("Status: 302 Found\nLocation: http://example.com/x\nContent-Type: text/plain\n\nscript body"),
		"301.py":       canned("Status: 301\nLocation: /cgi-bin/hello.py\n\n"),
		"204.py":       canned("Status: 204\nContent-Type: text/plain\n\nbody"),
		"304.py":       canned("Status: 304\n\nbody"),
		"exc.py": func(*Request) (*Output, error) {
			return &Output{Stdout: []byte("Content-Type: text/plain\n\npartial"), ExitCode: 1,
				Failure: "ZeroDivisionError: division by zero",
				Stderr:  []byte("Traceback (most recent call last):\n  File \"exc.py\", line 3\nZeroDivisionError: division by zero\n")}, nil
		},
		"compile.py": func(*Request) (*Output, error) {
			return &Output{ExitCode: 1, Failure: "SyntaxError: invalid syntax"}, nil
		},
		"exit3.py": func(*Request) (*Output, error) {
			return &Output{Stdout: []byte("Content-Type: text/plain\n\nok"), ExitCode: 3}, nil
		},
	}, nil)

	tests := []struct {
		name       string
		path       string
		method     string
		status     int
		header     map[string]string // "" means the header must be absent
		cookies    []string
		body       string
		bodyHas    string
		logMsg     string
		logLevel   slog.Level
		wantNoRuns bool
	}{
		{name: "document", path: "/cgi-bin/hello.py", status: 200, body: "Hello",
			header: map[string]string{"Content-Type": "text/plain", "Content-Length": "5"}},
		{name: "missing content type is the script's type", path: "/cgi-bin/noct.py", status: 200,
			header: map[string]string{"Content-Type": "text/x-python", "X-A": "1"}, body: "<html><body>sniff me</body></html>"},
		{name: "unknown type sends none, not sniffed", path: "/cgi-bin/noct", status: 200,
			header: map[string]string{"Content-Type": ""}, body: "<html><body>sniff me</body></html>"},
		{name: "type by extension without charset", path: "/cgi-bin/noct.txt", status: 200,
			header: map[string]string{"Content-Type": "text/plain"}, body: "plain"},
		{name: "empty content type sends none", path: "/cgi-bin/emptyct.py", status: 200,
			header: map[string]string{"Content-Type": ""}, body: "<html>"},
		{name: "script status", path: "/cgi-bin/status.py", status: 404, body: "missing"},
		{name: "invalid status is a 500 with the script body", path: "/cgi-bin/badstatus.py", status: 500, body: "ok",
			header: map[string]string{"Content-Type": "text/plain"}, logMsg: "invalid status line from script", logLevel: slog.LevelError},
		{name: "malformed header", path: "/cgi-bin/malformed.py", status: 500, bodyHas: "Internal Server Error",
			header: map[string]string{"Content-Type": "text/html; charset=iso-8859-1"}, logMsg: "malformed header from script", logLevel: slog.LevelError},
		{name: "end of output before headers", path: "/cgi-bin/eof.py", status: 500,
			logMsg: "end of script output before headers", logLevel: slog.LevelError},
		{name: "transfer encoding dropped", path: "/cgi-bin/te.py", status: 200, body: "3\r\nabc\r\n0\r\n\r\n",
			header: map[string]string{"Content-Length": "13"}},
		{name: "content length recomputed", path: "/cgi-bin/cl.py", status: 200, body: "12345678",
			header: map[string]string{"Content-Length": "8"}},
		{name: "duplicates", path: "/cgi-bin/dup.py", status: 200, body: "body",
			header: map[string]string{"X-Foo": "bar, baz"}, cookies: []string{"a=1", "b=2"}},
		{name: "hop by hop dropped", path: "/cgi-bin/hop.py", status: 200, body: "body",
			header: map[string]string{"Keep-Alive": "", "Upgrade": ""}},
		{name: "absolute location", path: "/cgi-bin/abs.py", status: 302, bodyHas: `<a href="http://example.com/x?a=1&amp;b=&lt;2&gt;">here</a>`,
			header:  map[string]string{"Location": "http://example.com/x?a=1&b=<2>", "X-Extra": "1", "Content-Type": "text/html; charset=iso-8859-1"},
			cookies: []string{"s=1"}},
		{name: "relative location", path: "/cgi-bin/rel.py", status: 302, bodyHas: "The document has moved",
			header: map[string]string{"Location": "relative/x"}},
		{name: "redirect with document", path: "/cgi-bin/302.py", status: 302, body: "script body",
			header: map[string]string{"Location": "http://example.com/x", "Content-Type": "text/plain"}},
		{name: "3xx with local location passes", path: "/cgi-bin/301.py", status: 301, body: "",
			header: map[string]string{"Location": "/cgi-bin/hello.py", "Content-Type": "text/x-python"}},
		{name: "204 has no body", path: "/cgi-bin/204.py", status: 204, body: "", header: map[string]string{"Content-Type": ""}},
		{name: "304 has no body", path: "/cgi-bin/304.py", status: 304, body: ""},
		{name: "exception after headers", path: "/cgi-bin/exc.py", status: 200, body: "partial",
			logMsg: "script failed", logLevel: slog.LevelWarn},
		{name: "compile error", path: "/cgi-bin/compile.py", status: 500,
			logMsg: "end of script output before headers", logLevel: slog.LevelError},
		{name: "exit status ignored", path: "/cgi-bin/exit3.py", status: 200, body: "ok",
			logMsg: "script exited with non-zero status", logLevel: slog.LevelWarn},
		{name: "head", path: "/cgi-bin/hello.py", method: "HEAD", status: 200, body: "",
			header: map[string]string{"Content-Type": "text/plain", "Content-Length": "5"}},
		{name: "directory", path: "/cgi-bin/sub/", status: 403, bodyHas: "Forbidden", wantNoRuns: true},
		{name: "hidden", path: "/cgi-bin/.git/config", status: 404, wantNoRuns: true,
			logMsg: "script not found", logLevel: slog.LevelInfo},
		{name: "not executable", path: "/cgi-bin/config.ini", status: 500, wantNoRuns: true,
			logMsg: "script not executable", logLevel: slog.LevelError},
		{name: "outside the prefix", path: "/other/env.py", status: 404, wantNoRuns: true},
		{name: "encoded slash", path: "/cgi-bin/env.py%2F..%2Fx", status: 404, wantNoRuns: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			before := fx.scripts.runs.Load()
			req, err := http.NewRequest(method, fx.srv+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, req)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d; want %d (body %q)", resp.StatusCode, tt.status, body)
			}
			if tt.body != "" || tt.bodyHas == "" && tt.status < 400 {
				if body != tt.body {
					t.Errorf("body = %q; want %q", body, tt.body)
				}
			}
			if !strings.Contains(body, tt.bodyHas) {
				t.Errorf("body = %q; want it to contain %q", body, tt.bodyHas)
			}
			for k, want := range tt.header {
				got, ok := resp.Header[k]
				switch {
				case want == "" && ok:
					t.Errorf("header %s = %q; want it absent", k, got)
				case want != "" && (len(got) != 1 || got[0] != want):
					t.Errorf("header %s = %q; want %q", k, got, want)
				}
			}
			if tt.cookies != nil && !slices.Equal(resp.Header["Set-Cookie"], tt.cookies) {
				t.Errorf("Set-Cookie = %q; want %q", resp.Header["Set-Cookie"], tt.cookies)
			}
			if tt.logMsg != "" {
				lvl, attrs := fx.logs.waitFind(t, tt.logMsg)
				if lvl != tt.logLevel {
					t.Errorf("log %q at %v; want %v", tt.logMsg, lvl, tt.logLevel)
				}
				if attrs[keyScript] == "" && attrs[keyPath] == "" {
					t.Errorf("log %q has neither script nor path: %v", tt.logMsg, attrs)
				}
			}
			if ran := fx.scripts.runs.Load() != before; ran == tt.wantNoRuns {
				t.Errorf("script ran: %v; want %v", ran, !tt.wantNoRuns)
			}
		})
	}
}

func TestHandlerEnv(t *testing.T) {
	t.Setenv("WARMCGI_CANARY", "do-not-leak")
	fx := newFixture(t, nil, nil)
	req, _ := http.NewRequest("GET", fx.srv+"/cgi-bin/sub/env.py/a%20b/?foo%3Bbar+x%26y+%24HOME", nil)
	req.Header.Set("Proxy", "http://evil.example")
	req.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	req.Header["X_under"] = []string{"u"}
	resp, body := do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	m := parseEcho(t, body)
	port := strings.TrimPrefix(fx.addr, "127.0.0.1:")
	want := map[string]string{
		"SCRIPT_NAME":     "/cgi-bin/sub/env.py",
		"SCRIPT_FILENAME": filepath.Join(fx.root, "sub/env.py"),
		"PATH_INFO":       "/a b/",
		"PATH_TRANSLATED": fx.root + "/a b/",
		"QUERY_STRING":    "foo%3Bbar+x%26y+%24HOME",
		"REQUEST_URI":     "/cgi-bin/sub/env.py/a%20b/?foo%3Bbar+x%26y+%24HOME",
		"SERVER_NAME":     "127.0.0.1",
		"SERVER_PORT":     port,
		"SERVER_ADDR":     "127.0.0.1",
		"REMOTE_ADDR":     "127.0.0.1",
		"HTTP_HOST":       fx.addr,
		"HTTP_COOKIE":     "a=1, b=2",
		"SERVER_PROTOCOL": "HTTP/1.1",
		"ARGV":            `["foo\\;bar" "x\\&y" "\\$HOME"]`,
		"STDIN":           `""`,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q; want %q", k, m[k], v)
		}
	}
	for _, k := range []string{"HTTP_PROXY", "HTTP_AUTHORIZATION", "HTTP_X_UNDER", "CONTENT_LENGTH", "WARMCGI_CANARY"} {
		if v, ok := m[k]; ok {
			t.Errorf("%s = %q; want it absent", k, v)
		}
	}
	if p, err := strconv.Atoi(m["REMOTE_PORT"]); err != nil || p == 0 {
		t.Errorf("REMOTE_PORT = %q; want a port", m["REMOTE_PORT"])
	}
}

func TestHandlerBody(t *testing.T) {
	fx := newFixture(t, nil, func(h *Handler) { h.MaxBody = 10 })
	tests := []struct {
		name    string
		body    string
		chunked bool
		status  int
		wantCL  string // "" means CONTENT_LENGTH absent
	}{
		{name: "content length", body: "abc", status: 200, wantCL: "3"},
		{name: "at the limit", body: "0123456789", status: 200, wantCL: "10"},
		{name: "over the limit", body: "0123456789X", status: 413},
		// As Apache: de-chunked on stdin, no CONTENT_LENGTH,
		// HTTP_TRANSFER_ENCODING=chunked (COMPAT 19).
		{name: "chunked is de-chunked", body: "abcdefghij", chunked: true, status: 200},
		{name: "chunked over the limit", body: "abcdefghijk", chunked: true, status: 413},
		{name: "empty chunked body", body: "", chunked: true, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fx.scripts.runs.Load()
			var rd io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				rd = io.MultiReader(rd) // unknown length: the client sends it chunked
			}
			req, _ := http.NewRequest("POST", fx.srv+"/cgi-bin/env.py", rd)
			req.Header.Set("Content-Type", "application/octet-stream")
			if tt.chunked {
				req.TransferEncoding = []string{"chunked"}
			}
			resp, body := do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d", resp.StatusCode, tt.status)
			}
			if tt.status != 200 {
				if fx.scripts.runs.Load() != before {
					t.Errorf("script ran for a %d", tt.status)
				}
				return
			}
			m := parseEcho(t, body)
			if m["CONTENT_LENGTH"] != tt.wantCL {
				t.Errorf("CONTENT_LENGTH = %q; want %q", m["CONTENT_LENGTH"], tt.wantCL)
			}
			if m["STDIN"] != strconv.Quote(tt.body) {
				t.Errorf("STDIN = %s; want %q", m["STDIN"], tt.body)
			}
			if _, ok := m["CONTENT_LENGTH"]; ok == tt.chunked {
				t.Errorf("CONTENT_LENGTH set: %v; want %v", ok, !tt.chunked)
			}
			if v, ok := m["HTTP_TRANSFER_ENCODING"]; tt.chunked && v != "chunked" || !tt.chunked && ok {
				t.Errorf("HTTP_TRANSFER_ENCODING = %q (set: %v); want chunked only for a chunked body", v, ok)
			}
			if m["CONTENT_TYPE"] != "application/octet-stream" {
				t.Errorf("CONTENT_TYPE = %q", m["CONTENT_TYPE"])
			}
		})
	}
	t.Run("raw chunked over the limit", func(t *testing.T) {
		out := rawRequest(t, fx.addr, "POST /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
			"6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n")
		if !strings.HasPrefix(out, "HTTP/1.1 413 ") {
			t.Errorf("response = %.60q; want 413", out)
		}
	})
}

func TestHandlerLocalRedirect(t *testing.T) {
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		"first.py":    canned("Location: /cgi-bin/second.py/pi2?c2=1\nX-Foo: 1\nSet-Cookie: a=1\nContent-Type: text/html\n\nignored"),
		"second.py":   canned("Location: /cgi-bin/env.py\nX-Foo: 2\nSet-Cookie: b=2\n\n"),
		"loop.py":     canned("Location: /cgi-bin/loop.py\n\n"),
		"away.py":     canned("Location: /elsewhere/x\nX-Foo: kept\n\n"),
		"fragment.py": canned("Location: /cgi-bin/env.py/a%20b/../c?x=%41#frag\n\n"),
		"scheme.py":   canned("Location: //evil.example/cgi-bin/env.py\n\n"),
		"hops.py": func(req *Request) (*Output, error) {
			var n int
			for _, e := range req.Env {
				if q, ok := strings.CutPrefix(e, "QUERY_STRING="); ok {
					n, _ = strconv.Atoi(q)
				}
			}
			if n == 0 {
				return &Output{Stdout: []byte("Content-Type: text/plain\n\ndone")}, nil
			}
			return &Output{Stdout: []byte(fmt.Sprintf("Location: /cgi-bin/hops.py?%d\n\n", n-1))}, nil
		},
	}, nil)

	t.Run("chain", func(t *testing.T) {
		req, _ := http.NewRequest("POST", fx.srv+"/cgi-bin/first.py/pi1?c1=1", strings.NewReader("abc"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, body := do(t, req)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		m := parseEcho(t, body)
		want := map[string]string{
			"REQUEST_METHOD":                      "GET",
			"REQUEST_URI":                         "/cgi-bin/first.py/pi1?c1=1",
			"SCRIPT_NAME":                         "/cgi-bin/env.py",
			"QUERY_STRING":                        "",
			"CONTENT_TYPE":                        "application/x-www-form-urlencoded",
			"STDIN":                               `""`,
			"REDIRECT_STATUS":                     "200",
			"REDIRECT_URL":                        "/cgi-bin/second.py/pi2",
			"REDIRECT_QUERY_STRING":               "c2=1",
			"REDIRECT_SCRIPT_NAME":                "/cgi-bin/second.py",
			"REDIRECT_PATH_INFO":                  "/pi2",
			"REDIRECT_REQUEST_METHOD":             "GET",
			"REDIRECT_REDIRECT_STATUS":            "200",
			"REDIRECT_REDIRECT_URL":               "/cgi-bin/first.py/pi1",
			"REDIRECT_REDIRECT_QUERY_STRING":      "c1=1",
			"REDIRECT_REDIRECT_REQUEST_METHOD":    "POST",
			"REDIRECT_REDIRECT_CONTENT_LENGTH":    "3",
			"REDIRECT_REDIRECT_PATH_INFO":         "/pi1",
			"REDIRECT_REDIRECT_SCRIPT_FILENAME":   filepath.Join(fx.root, "first.py"),
			"REDIRECT_REDIRECT_GATEWAY_INTERFACE": "CGI/1.1",
			"REDIRECT_HTTP_HOST":                  fx.addr,
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s = %q; want %q", k, m[k], v)
			}
		}
		for _, k := range []string{"CONTENT_LENGTH", "PATH_INFO", "REDIRECT_CONTENT_LENGTH", "REDIRECT_REDIRECT_REDIRECT_STATUS"} {
			if v, ok := m[k]; ok {
				t.Errorf("%s = %q; want it absent", k, v)
			}
		}
		if got := resp.Header["X-Foo"]; !slices.Equal(got, []string{"1, 2"}) {
			t.Errorf("X-Foo = %q; want the redirecting scripts' values merged", got)
		}
		if got := resp.Header["Set-Cookie"]; !slices.Equal(got, []string{"a=1", "b=2"}) {
			t.Errorf("Set-Cookie = %q; want both", got)
		}
		if got := resp.Header.Get("Content-Type"); got != "text/plain" {
			t.Errorf("Content-Type = %q; want the target's", got)
		}
	})

	t.Run("fragment dropped and path normalised", func(t *testing.T) {
		resp, body := get(t, fx.srv+"/cgi-bin/fragment.py")
		m := parseEcho(t, body)
		if resp.StatusCode != 200 || m["PATH_INFO"] != "/c" || m["QUERY_STRING"] != "x=%41" {
			t.Errorf("status %d PATH_INFO %q QUERY_STRING %q; want 200 /c x=%%41", resp.StatusCode, m["PATH_INFO"], m["QUERY_STRING"])
		}
	})

	t.Run("scheme relative location is a path", func(t *testing.T) {
		resp, _ := get(t, fx.srv+"/cgi-bin/scheme.py")
		if resp.StatusCode != 404 {
			t.Errorf("status %d; want 404 (/evil.example/... is outside the prefix)", resp.StatusCode)
		}
	})

	t.Run("outside the prefix", func(t *testing.T) {
		resp, _ := get(t, fx.srv+"/cgi-bin/away.py")
		if resp.StatusCode != 404 || resp.Header.Get("X-Foo") != "kept" {
			t.Errorf("status %d X-Foo %q; want 404 with the script's header", resp.StatusCode, resp.Header.Get("X-Foo"))
		}
	})

	t.Run("loop", func(t *testing.T) {
		before := fx.scripts.runs.Load()
		resp, _ := get(t, fx.srv+"/cgi-bin/loop.py")
		if resp.StatusCode != 500 {
			t.Errorf("status %d; want 500", resp.StatusCode)
		}
		if runs := fx.scripts.runs.Load() - before; runs != maxRedirects+1 {
			t.Errorf("script ran %d times; want %d", runs, maxRedirects+1)
		}
		fx.logs.waitFind(t, "request exceeded the limit of 10 internal redirects")
	})

	for _, tt := range []struct {
		name   string
		hops   int
		status int
	}{
		{name: "ten redirects", hops: 10, status: 200},
		{name: "eleven redirects", hops: 11, status: 500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, fx.srv+"/cgi-bin/hops.py?"+strconv.Itoa(tt.hops))
			if resp.StatusCode != tt.status {
				t.Errorf("status %d (%q); want %d", resp.StatusCode, body, tt.status)
			}
		})
	}
}

func TestHandlerRunnerErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		retry  string
	}{
		{name: "overloaded", err: ErrOverloaded, status: 503, retry: "1"},
		{name: "overloaded wrapped", err: fmt.Errorf("interp: queue full: %w", ErrOverloaded), status: 503, retry: "1"},
		{name: "timeout", err: fmt.Errorf("interp: %w", context.DeadlineExceeded), status: 504},
		{name: "other", err: errors.New("interp: worker crashed"), status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, map[string]func(*Request) (*Output, error){
				"x.py": func(*Request) (*Output, error) { return nil, tt.err },
			}, nil)
			resp, _ := get(t, fx.srv+"/cgi-bin/x.py")
			if resp.StatusCode != tt.status || resp.Header.Get("Retry-After") != tt.retry {
				t.Errorf("status %d Retry-After %q; want %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), tt.status, tt.retry)
			}
		})
	}
	t.Run("client gone", func(t *testing.T) {
		root, _ := makeTree(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		h := &Handler{Root: root, Runner: runnerFunc(func(ctx context.Context, _ *Request) (*Output, error) {
			return nil, ctx.Err()
		})}
		rec := &recorder{header: http.Header{}}
		req, _ := http.NewRequestWithContext(ctx, "GET", "/cgi-bin/env.py", nil)
		h.ServeHTTP(rec, req)
		if rec.status != 0 || rec.body.Len() != 0 {
			t.Errorf("wrote %d %q to a client that left", rec.status, rec.body.String())
		}
	})
}

// recorder is a minimal ResponseWriter that records whether anything was
// written (httptest.ResponseRecorder reports 200 for nothing).
type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }

func TestHandlerRawResponses(t *testing.T) {
	nph := "HTTP/1.1 299 Custom Thing\r\nX-Nph: 1\r\n\r\nraw body"
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		"nph-raw.py": canned(nph),
		"teapot.py":  canned("Status: 418 Short and stout\r\nContent-Type: text/plain\r\n\r\nteapot"),
		"fine.py":    canned("Status: 200 Fine Thanks\nContent-Type: text/plain\n\nok"),
		"empty.py":   canned("Status: 404 \n\n"),
		"plain.py":   canned("Status: 418 I'm a teapot\nContent-Type: text/plain\n\nstd"),
	}, nil)

	t.Run("nph", func(t *testing.T) {
		out := rawRequest(t, fx.addr, "GET /cgi-bin/nph-raw.py HTTP/1.1\r\nHost: x\r\n\r\n")
		if out != nph {
			t.Errorf("got %q; want the script output unmodified %q", out, nph)
		}
	})
	t.Run("nph head sends everything", func(t *testing.T) {
		out := rawRequest(t, fx.addr, "HEAD /cgi-bin/nph-raw.py HTTP/1.1\r\nHost: x\r\n\r\n")
		if out != nph {
			t.Errorf("got %q; want %q", out, nph)
		}
	})

	for _, tt := range []struct {
		name, path, method, proto, statusLine, body string
	}{
		{name: "custom reason", path: "/cgi-bin/teapot.py", statusLine: "HTTP/1.1 418 Short and stout", body: "teapot"},
		{name: "custom reason for 200", path: "/cgi-bin/fine.py", statusLine: "HTTP/1.1 200 Fine Thanks", body: "ok"},
		{name: "empty reason", path: "/cgi-bin/empty.py", statusLine: "HTTP/1.1 404 "},
		{name: "custom reason head", path: "/cgi-bin/teapot.py", method: "HEAD", statusLine: "HTTP/1.1 418 Short and stout"},
		{name: "custom reason http/1.0", path: "/cgi-bin/teapot.py", proto: "HTTP/1.0", statusLine: "HTTP/1.0 418 Short and stout", body: "teapot"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			method, proto := cmpOr(tt.method, "GET"), cmpOr(tt.proto, "HTTP/1.1")
			out := rawRequest(t, fx.addr, method+" "+tt.path+" "+proto+"\r\nHost: x\r\n\r\n")
			head, body, ok := strings.Cut(out, "\r\n\r\n")
			if !ok {
				t.Fatalf("no end of headers in %q", out)
			}
			lines := strings.Split(head, "\r\n")
			if lines[0] != tt.statusLine {
				t.Errorf("status line %q; want %q", lines[0], tt.statusLine)
			}
			if !slices.Contains(lines, "Connection: close") {
				t.Errorf("headers %q lack Connection: close", lines)
			}
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "Date: ") }) {
				t.Errorf("headers %q lack Date", lines)
			}
			if want := "Content-Length: " + strconv.Itoa(len(cmpOr(tt.body, "teapot"))); tt.path == "/cgi-bin/teapot.py" && !slices.Contains(lines, want) {
				t.Errorf("headers %q lack %q", lines, want)
			}
			if body != tt.body {
				t.Errorf("body %q; want %q", body, tt.body)
			}
		})
	}

	t.Run("standard reason keeps the connection", func(t *testing.T) {
		line := rawStatusLine(t, fx.addr, "GET /cgi-bin/plain.py HTTP/1.1\r\nHost: x\r\n\r\n")
		if line != "HTTP/1.1 418 I'm a teapot" {
			t.Errorf("status line %q", line)
		}
		resp, _ := get(t, fx.srv+"/cgi-bin/plain.py")
		if resp.Close {
			t.Error("connection closed for a standard reason phrase")
		}
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestHandlerBadPaths(t *testing.T) {
	fx := newFixture(t, nil, nil)
	for _, tt := range []struct {
		name, target string
		status       int
	}{
		{name: "above root", target: "/../cgi-bin/env.py", status: 400},
		{name: "encoded above root", target: "/cgi-bin/%2e%2e/%2e%2e/etc/passwd", status: 400},
		{name: "escaping the prefix", target: "/cgi-bin/%2e%2e/outside/evil.py", status: 404},
		{name: "normalised into the prefix", target: "/cgi-bin/a/%2e%2e/env.py", status: 200},
		{name: "nul", target: "/cgi-bin/env.py%00", status: 404},
		{name: "backslash", target: "/cgi-bin/env.py%5c", status: 404},
		{name: "symlink out", target: "/cgi-bin/linkout.py", status: 404},
		{name: "pycache", target: "/cgi-bin/__pycache__/x.py", status: 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			line := rawStatusLine(t, fx.addr, "GET "+tt.target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if want := "HTTP/1.1 " + strconv.Itoa(tt.status) + " "; !strings.HasPrefix(line, want) {
				t.Errorf("GET %s: %q; want %q...", tt.target, line, want)
			}
		})
	}
}

func TestHandlerLogs(t *testing.T) {
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		"warn.py": func(*Request) (*Output, error) {
			return &Output{Stdout: []byte("Content-Type: text/plain\n\nok"), Stderr: []byte("first line\r\n\nsecond line")}, nil
		},
	}, nil)
	get(t, fx.srv+"/cgi-bin/warn.py?q=1")
	script := filepath.Join(fx.root, "warn.py")
	for _, msg := range []string{"first line", "second line"} {
		lvl, attrs := fx.logs.waitFind(t, msg)
		if lvl != slog.LevelWarn || attrs[keyScript] != script {
			t.Errorf("stderr %q logged at %v with %v; want Warn with script=%s", msg, lvl, attrs, script)
		}
	}
	if _, _, ok := fx.logs.find(""); ok {
		t.Error("an empty stderr line was logged")
	}
	lvl, attrs := fx.logs.waitFind(t, "request")
	if lvl != slog.LevelInfo || attrs[keyMethod] != "GET" || attrs[keyPath] != "/cgi-bin/warn.py" || attrs[keyStatus] != "200" || attrs[keyDuration] == "" {
		t.Errorf("request log at %v with %v; want Info with method, path, status 200, duration", lvl, attrs)
	}
}

// TestHandlerRequestLogLevel: with RequestLogLevel Debug (the server sets
// it when an access log records every request), the per-request record is
// made at Debug; stderr lines are still logged at Warn.
func TestHandlerRequestLogLevel(t *testing.T) {
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		"warn.py": func(*Request) (*Output, error) {
			return &Output{Stdout: []byte("Content-Type: text/plain\n\nok"), Stderr: []byte("a line")}, nil
		},
	}, func(h *Handler) { h.RequestLogLevel = slog.LevelDebug })
	get(t, fx.srv+"/cgi-bin/warn.py")
	if lvl, _ := fx.logs.waitFind(t, "a line"); lvl != slog.LevelWarn {
		t.Errorf("stderr line logged at %v, want Warn", lvl)
	}
	lvl, attrs := fx.logs.waitFind(t, "request")
	if lvl != slog.LevelDebug || attrs[keyStatus] != "200" {
		t.Errorf("request record at %v with %v; want Debug with status 200", lvl, attrs)
	}
}

func TestHandlerMisconfigured(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    *Handler
	}{
		{name: "no root", h: &Handler{Runner: &scripts{}}},
		{name: "no runner", h: &Handler{Root: os.TempDir()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{header: http.Header{}}
			tt.h.ServeHTTP(rec, envRequestFor("GET", "/cgi-bin/env.py"))
			if rec.status != 500 {
				t.Errorf("status %d; want 500", rec.status)
			}
		})
	}
}

func TestHandlerURLLength(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limit  int
		target string
		status int
	}{
		{name: "default limit, at it", target: "/cgi-bin/env.py?" + strings.Repeat("a", DefaultMaxURLLength-len("/cgi-bin/env.py?")), status: 200},
		{name: "default limit, over it", target: "/cgi-bin/env.py?" + strings.Repeat("a", DefaultMaxURLLength+1-len("/cgi-bin/env.py?")), status: 414},
		{name: "checked before resolution", limit: 20, target: "/cgi-bin/" + strings.Repeat("%2e%2e/", 10) + "etc/passwd", status: 414},
		{name: "long path", limit: 20, target: "/cgi-bin/env.py/" + strings.Repeat("x", 10), status: 414},
		{name: "under a small limit", limit: 20, target: "/cgi-bin/env.py?abc", status: 200},
		{name: "no limit", limit: -1, target: "/cgi-bin/env.py?" + strings.Repeat("a", 20000), status: 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, nil, func(h *Handler) { h.MaxURLLength = tt.limit })
			resp := rawRequest(t, fx.addr, "GET "+tt.target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if want := "HTTP/1.1 " + strconv.Itoa(tt.status) + " "; !strings.HasPrefix(resp, want) {
				t.Fatalf("GET (%d bytes): %.60q; want %q...", len(tt.target), resp, want)
			}
			runs := fx.scripts.runs.Load()
			if tt.status == 414 {
				if runs != 0 {
					t.Errorf("%d scripts ran for a 414", runs)
				}
				if !strings.Contains(resp, "exceeds the capacity") {
					t.Errorf("414 page: %q", resp)
				}
			}
		})
	}
}

func TestHandlerResponseHeaderLimits(t *testing.T) {
	many := "Content-Type: text/plain\n" + strings.Repeat("X-Echo: x\n", maxHeaderLines) + "\nbody"
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		"many.py":   canned(many),
		"enough.py": canned("Content-Type: text/plain\n" + strings.Repeat("X-Echo: x\n", maxHeaderLines-1) + "\nbody"),
		"cr.py":     canned("Content-Type: text/plain\nX-A: a\rSet-Cookie: evil=1\n\nbody"),
	}, nil)
	resp, body := get(t, fx.srv+"/cgi-bin/many.py")
	if resp.StatusCode != 500 || strings.Contains(body, "X-Echo") {
		t.Errorf("too many headers: %d %q; want 500 without the script's output", resp.StatusCode, body)
	}
	if lvl, attrs := fx.logs.waitFind(t, "too many header lines from script"); lvl != slog.LevelError || attrs[keyScript] == "" {
		t.Errorf("logged at %v with %v; want Error with the script", lvl, attrs)
	}
	if resp, body := get(t, fx.srv+"/cgi-bin/enough.py"); resp.StatusCode != 200 || body != "body" {
		t.Errorf("%d header lines: %d %q; want 200", maxHeaderLines, resp.StatusCode, body)
	}
	resp, _ = get(t, fx.srv+"/cgi-bin/cr.py")
	if resp.StatusCode != 200 || len(resp.Cookies()) != 0 || resp.Header.Get("X-A") != "aSet-Cookie: evil=1" {
		t.Errorf("CR in a header value: %d, X-A %q, cookies %v; want one X-A header and no cookie",
			resp.StatusCode, resp.Header.Get("X-A"), resp.Cookies())
	}
}

func TestHandlerWorldWritable(t *testing.T) {
	fx := newFixture(t, nil, nil)
	addScripts(t, fx.root, "open.py")
	if err := os.Chmod(filepath.Join(fx.root, "open.py"), 0o777); err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, fx.srv+"/cgi-bin/open.py"); resp.StatusCode != 500 || fx.scripts.runs.Load() != 0 {
		t.Errorf("world-writable script: %d %q, %d runs; want 500 without running it", resp.StatusCode, body, fx.scripts.runs.Load())
	}
	if lvl, _ := fx.logs.waitFind(t, "script or directory writable by others"); lvl != slog.LevelError {
		t.Errorf("logged at %v; want Error", lvl)
	}
}
