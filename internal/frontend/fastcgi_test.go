package frontend

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

// FastCGI record types and the responder role (the FastCGI 1.0 spec).
const (
	fcgiBeginRequest = 1
	fcgiEndRequest   = 3
	fcgiParams       = 4
	fcgiStdin        = 5
	fcgiStdout       = 6
	fcgiResponder    = 1
	fcgiKeepConn     = 1
)

// fcgiClient is the front end's side of a FastCGI connection, as nginx
// speaks it: one request at a time, the connection kept open.
type fcgiClient struct {
	conn net.Conn
	r    *bufio.Reader
	id   uint16
}

func dialFastCGI(t *testing.T, addr string) *fcgiClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &fcgiClient{conn: c, r: bufio.NewReader(c)}
}

func (c *fcgiClient) record(typ byte, content []byte) error {
	h := []byte{1, typ, byte(c.id >> 8), byte(c.id), byte(len(content) >> 8), byte(len(content)), 0, 0}
	_, err := c.conn.Write(append(h, content...))
	return err
}

// appendPair appends a FastCGI name-value pair.
func appendPair(b []byte, k, v string) []byte {
	for _, n := range []int{len(k), len(v)} {
		if n < 128 {
			b = append(b, byte(n))
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
		}
	}
	return append(append(b, k...), v...)
}

// do sends one request and returns the response's header block and body,
// as the server wrote them on FCGI_STDOUT.
func (c *fcgiClient) do(params map[string]string, stdin string) (http.Header, string, error) {
	c.id++
	if err := c.record(fcgiBeginRequest, []byte{0, fcgiResponder, fcgiKeepConn, 0, 0, 0, 0, 0}); err != nil {
		return nil, "", err
	}
	var p []byte
	for k, v := range params {
		p = appendPair(p, k, v)
	}
	records := []struct {
		typ     byte
		content string
	}{{fcgiParams, string(p)}, {fcgiParams, ""}, {fcgiStdin, stdin}, {fcgiStdin, ""}} // an empty record ends a stream
	if stdin == "" {
		records = records[:3]
	}
	for _, rec := range records {
		if err := c.record(rec.typ, []byte(rec.content)); err != nil {
			return nil, "", err
		}
	}
	var out strings.Builder
	for {
		var h [8]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return nil, "", err
		}
		body := make([]byte, int(binary.BigEndian.Uint16(h[4:6]))+int(h[6]))
		if _, err := io.ReadFull(c.r, body); err != nil {
			return nil, "", err
		}
		body = body[:binary.BigEndian.Uint16(h[4:6])]
		switch h[1] {
		case fcgiStdout:
			out.Write(body)
		case fcgiEndRequest:
			head, rest, ok := strings.Cut(out.String(), "\r\n\r\n")
			if !ok {
				return nil, "", fmt.Errorf("no header block in %q", out.String())
			}
			hdr := http.Header{}
			for _, line := range strings.Split(head, "\r\n") {
				k, v, _ := strings.Cut(line, ": ")
				hdr.Add(k, v)
			}
			return hdr, rest, nil
		}
	}
}

// serveFastCGI serves h over FastCGI on a loopback port.
func serveFastCGI(t *testing.T, h http.Handler, passUser bool) (*FastCGIServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewFastCGIServer(h, passUser, discard())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	})
	return s, ln.Addr().String()
}

// envRunner answers every request with the environment the script got.
type envRunner struct{}

func (envRunner) Run(_ context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	return &cgienv.Output{Stdout: []byte("Content-Type: text/plain\n\n" + strings.Join(req.Env, "\n") + "\n")}, nil
}

// nginxParams are what nginx's fastcgi_params send for a GET over HTTPS.
func nginxParams() map[string]string {
	return map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/cgi-bin/env.py/extra?q=1", "SERVER_PROTOCOL": "HTTP/1.1",
		"SERVER_SOFTWARE": "nginx/1.22.1", "SERVER_NAME": "example.test", "SERVER_ADDR": "10.0.0.1",
		"SERVER_PORT": "8443", "REMOTE_ADDR": "192.0.2.7", "REMOTE_PORT": "5555", "HTTPS": "on",
		"HTTP_HOST": "example.test:8443", "REMOTE_USER": "alice", "AUTH_TYPE": "Basic", "SSL_PROTOCOL": "TLSv1.3",
		"SCRIPT_FILENAME": "/etc/passwd", "DOCUMENT_ROOT": "/etc", "SCRIPT_NAME": "/other", "EMPTY_ONE": "",
		"CONTENT_LENGTH": "", "CONTENT_TYPE": "",
	}
}

// TestFastCGIEnvironment: the script is chosen from REQUEST_URI under the
// prefix, never from the front end's SCRIPT_FILENAME; the front end's
// server, client, scheme and extra variables reach the script; empty ones
// and REMOTE_USER (unless passUser) do not.
func TestFastCGIEnvironment(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "env.py"), []byte("#!/usr/bin/python3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, passUser := range []bool{false, true} {
		h := &cgienv.Handler{Root: dir, Prefix: "/cgi-bin/", Runner: envRunner{}, Logger: discard()}
		_, addr := serveFastCGI(t, h, passUser)
		hdr, body, err := dialFastCGI(t, addr).do(nginxParams(), "")
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			k, v, _ := strings.Cut(line, "=")
			env[k] = v
		}
		want := map[string]string{
			"SCRIPT_NAME": "/cgi-bin/env.py", "PATH_INFO": "/extra", "QUERY_STRING": "q=1",
			"SCRIPT_FILENAME": filepath.Join(dir, "env.py"), "SERVER_NAME": "example.test", "SERVER_PORT": "8443",
			"SERVER_ADDR": "10.0.0.1", "REMOTE_ADDR": "192.0.2.7", "REMOTE_PORT": "5555", "HTTPS": "on",
			"REQUEST_SCHEME": "https", "SSL_PROTOCOL": "TLSv1.3", "HTTP_HOST": "example.test:8443",
			"REQUEST_URI": "/cgi-bin/env.py/extra?q=1",
		}
		if passUser {
			want["REMOTE_USER"], want["AUTH_TYPE"] = "alice", "Basic"
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("passUser %v: %s=%q, want %q", passUser, k, env[k], v)
			}
		}
		for _, k := range []string{"EMPTY_ONE", "CONTENT_LENGTH", "CONTENT_TYPE"} {
			if _, ok := env[k]; ok {
				t.Errorf("passUser %v: empty %s passed on", passUser, k)
			}
		}
		if _, ok := env["REMOTE_USER"]; !passUser && ok {
			t.Errorf("REMOTE_USER passed on without passUser")
		}
		if hdr.Get("Content-Length") == "" || hdr.Get("X-Accel-Buffering") != "" {
			t.Errorf("a complete response's headers: %v", hdr)
		}
	}
}

// TestFastCGIRequest: what the handler gets from the FastCGI request:
// RequestURI set again, Content-Type once, and a body without
// CONTENT_LENGTH (Apache passing a chunked one on) of unknown length.
func TestFastCGIRequest(t *testing.T) {
	type seen struct {
		uri, body   string
		contentType []string
		length      int64
	}
	got := make(chan seen, 1)
	_, addr := serveFastCGI(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.RequestURI, string(b), r.Header["Content-Type"], r.ContentLength}
	}), false)
	c := dialFastCGI(t, addr)
	params := map[string]string{"REQUEST_METHOD": "POST", "REQUEST_URI": "/cgi-bin/a.py?x=%C3%A9", "SERVER_PROTOCOL": "HTTP/1.1",
		"CONTENT_TYPE": "text/plain", "HTTP_CONTENT_TYPE": "text/plain", "SERVER_SOFTWARE": "Apache/2.4"}
	if _, _, err := c.do(params, "chunked body"); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.uri != "/cgi-bin/a.py?x=%C3%A9" || s.body != "chunked body" || s.length != -1 || len(s.contentType) != 1 {
		t.Errorf("request seen as %+v", s)
	}
	params["CONTENT_LENGTH"] = "4"
	if _, _, err := c.do(params, "four"); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.body != "four" || s.length != 4 {
		t.Errorf("request with CONTENT_LENGTH seen as %+v", s)
	}
	delete(params, "CONTENT_LENGTH")
	if _, _, err := c.do(params, ""); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.body != "" || s.length != 0 {
		t.Errorf("request without a body seen as %+v", s)
	}
}

// TestFastCGIWriter: a response of unknown length tells nginx not to
// buffer it, unless the script said otherwise or the front end is Apache;
// FlushError reports a front end that has gone.
func TestFastCGIWriter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		noAccel bool
		header  map[string]string
		want    string
	}{
		{"streamed", false, nil, "no"},
		{"complete", false, map[string]string{"Content-Length": "3"}, ""},
		{"script's own", false, map[string]string{"X-Accel-Buffering": "yes"}, "yes"},
		{"apache", true, nil, ""},
	} {
		rec := httptest.NewRecorder()
		w := &fastcgiWriter{ResponseWriter: rec, noAccel: tc.noAccel}
		for k, v := range tc.header {
			w.Header().Set(k, v)
		}
		w.Write([]byte("abc"))
		w.WriteHeader(http.StatusTeapot) // superfluous: the header is out
		if got := rec.Header().Get("X-Accel-Buffering"); got != tc.want || rec.Code != 200 {
			t.Errorf("%s: X-Accel-Buffering %q, status %d; want %q, 200", tc.name, got, rec.Code, tc.want)
		}
	}
	gone := errors.New("front end gone")
	w := &fastcgiWriter{ResponseWriter: &failingWriter{ResponseRecorder: httptest.NewRecorder(), err: gone}}
	if err := w.FlushError(); !errors.Is(err, gone) {
		t.Errorf("FlushError = %v, want %v", err, gone)
	}
	if w.Unwrap() == nil {
		t.Error("Unwrap returned nil")
	}
}

// failingWriter is a response writer whose connection has failed: as
// net/http/fcgi's, Flush drops the error and the next Write returns it.
type failingWriter struct {
	*httptest.ResponseRecorder
	err     error
	flushed bool
}

func (w *failingWriter) Flush() { w.flushed = true }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.flushed {
		return 0, w.err
	}
	return w.ResponseRecorder.Write(p)
}

// TestFastCGIShutdown: Shutdown lets the request in progress finish,
// answers 503 to a request that comes after it on a kept connection, and
// closes the connections the front end kept open.
func TestFastCGIShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewFastCGIServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "done "+r.URL.Path)
	}), false, discard())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	params := func(path string) map[string]string {
		return map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": path, "SERVER_PROTOCOL": "HTTP/1.1"}
	}
	kept := dialFastCGI(t, ln.Addr().String())
	if _, body, err := kept.do(params("/first"), ""); err != nil || body != "done /first" {
		t.Fatalf("first request: %q, %v", body, err)
	}
	slow := dialFastCGI(t, ln.Addr().String())
	result := make(chan string, 1)
	go func() {
		_, body, err := slow.do(params("/slow"), "")
		result <- fmt.Sprint(body, err)
	}()
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	hdr, body, err := kept.do(params("/late"), "")
	if err != nil || !strings.HasPrefix(hdr.Get("Status"), "503") || hdr.Get("Retry-After") != "1" {
		t.Errorf("request during the drain: %v %q, %v; want 503 with Retry-After", hdr, body, err)
	}
	close(release)
	if r := <-result; r != "done /slow<nil>" {
		t.Errorf("the request in progress: %s", r)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if _, err := kept.r.ReadByte(); err == nil {
		t.Error("the kept connection is still open after Shutdown")
	}
}
