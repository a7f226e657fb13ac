package cgienv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// observed collects what Handler.Observe reports.
type observed chan RequestInfo

func (o observed) hook(_ *http.Request, info *RequestInfo) { o <- *info }

// next returns the next report, failing the test if none comes.
func (o observed) next(t *testing.T) RequestInfo {
	t.Helper()
	select {
	case info := <-o:
		return info
	case <-time.After(5 * time.Second):
		t.Fatal("Observe was not called")
		return RequestInfo{}
	}
}

// TestObserve: Observe gets one report per request with the status and the
// body bytes the client received, for plain, streamed, HEAD, error and
// taken-over (NPH, unusual reason phrase) responses.
func TestObserve(t *testing.T) {
	nph := "HTTP/1.1 299 Custom Thing\r\nX-Nph: 1\r\n\r\nraw body"
	obs := make(observed, 10)
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		"hello.py":   canned("Content-Type: text/plain\r\n\r\nHello"),
		"nph-raw.py": canned(nph),
		"teapot.py":  canned("Status: 418 Short and stout\r\nContent-Type: text/plain\r\n\r\nteapot"),
		"stream.py": func(req *Request) (*Output, error) {
			if req.Stream == nil {
				return nil, fmt.Errorf("no stream")
			}
			if a := req.Stream([]byte("Content-Type: text/plain\n\nfirst ")); a != StreamSent {
				return nil, fmt.Errorf("stream answer %d", a)
			}
			req.Stream([]byte("second "))
			return &Output{Stdout: []byte("last")}, nil
		},
		"late.py": func(req *Request) (*Output, error) {
			return &Output{Stderr: []byte("one\ntwo\n")}, fmt.Errorf("late.py: %w", context.DeadlineExceeded)
		},
	}, func(h *Handler) { h.Observe = obs.hook })

	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string // "" with raw: compare bytes only
		raw                bool
		script             string
	}{
		{name: "get", method: "GET", path: "/cgi-bin/hello.py", status: 200, script: "/cgi-bin/hello.py"},
		{name: "head", method: "HEAD", path: "/cgi-bin/hello.py", status: 200, script: "/cgi-bin/hello.py"},
		{name: "streamed", method: "GET", path: "/cgi-bin/stream.py", status: 200, script: "/cgi-bin/stream.py"},
		{name: "not found", method: "GET", path: "/cgi-bin/missing.py", status: 404},
		{name: "timeout", method: "GET", path: "/cgi-bin/late.py", status: 504, script: "/cgi-bin/late.py"},
		{name: "reason phrase", method: "GET", path: "/cgi-bin/teapot.py", status: 418, raw: true, body: "teapot", script: "/cgi-bin/teapot.py"},
		{name: "nph", method: "GET", path: "/cgi-bin/nph-raw.py", status: 299, raw: true, body: "raw body", script: "/cgi-bin/nph-raw.py"},
		{name: "nph head", method: "HEAD", path: "/cgi-bin/nph-raw.py", status: 299, raw: true, body: "raw body", script: "/cgi-bin/nph-raw.py"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if tc.raw {
				out := rawRequest(t, fx.addr, tc.method+" "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
				if !strings.HasSuffix(out, "\r\n\r\n"+body) {
					t.Fatalf("response %q does not end with the body %q", out, body)
				}
			} else {
				req, _ := http.NewRequest(tc.method, fx.srv+tc.path, nil)
				resp, b := do(t, req)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
				}
				body = b
			}
			info := obs.next(t)
			if info.Status != tc.status || info.Bytes != int64(len(body)) || info.ScriptName != tc.script {
				t.Errorf("Observe got status %d, %d bytes, script %q; want %d, %d (the body the client got), %q",
					info.Status, info.Bytes, info.ScriptName, tc.status, len(body), tc.script)
			}
			if info.TimedOut != (tc.status == 504) {
				t.Errorf("TimedOut = %v for status %d", info.TimedOut, info.Status)
			}
			if info.ID == "" || info.RemoteAddr != "127.0.0.1" || info.Duration <= 0 || info.Start.IsZero() {
				t.Errorf("Observe got %+v: want an id, the client's address, a start and a duration", info)
			}
		})
	}

	// The stderr of the script that timed out is logged line by line,
	// with the request's id.
	for _, line := range []string{"one", "two"} {
		_, attrs := fx.logs.waitFind(t, line)
		if attrs[keyScript] == "" || attrs[keyRequestID] == "" {
			t.Errorf("stderr record %q has attributes %v; want script and request_id", line, attrs)
		}
	}
}

// TestRequestIDs: ids are unique, every record of a request carries its
// id, and an X-Request-Id is believed from a trusted proxy only.
func TestRequestIDs(t *testing.T) {
	obs := make(observed, 10)
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		"warn.py": func(req *Request) (*Output, error) {
			return &Output{Stdout: []byte("Content-Type: text/plain\n\nok"), Stderr: []byte("careful\n")}, nil
		},
	}, func(h *Handler) {
		h.Observe = obs.hook
		h.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	get(t, fx.srv+"/cgi-bin/warn.py")
	first := obs.next(t)
	_, attrs := fx.logs.waitFind(t, "careful")
	if attrs[keyRequestID] != first.ID {
		t.Errorf("stderr record has request_id %q, Observe got %q", attrs[keyRequestID], first.ID)
	}
	req, _ := http.NewRequest("GET", fx.srv+"/cgi-bin/warn.py", nil)
	req.Header.Set("X-Request-Id", "from-the-client")
	do(t, req)
	second := obs.next(t)
	if second.ID == first.ID || second.ID == "from-the-client" {
		t.Errorf("ids %q then %q: want two different ones, none taken from an untrusted client", first.ID, second.ID)
	}

	// A trusted peer's id is used.
	h := &Handler{Root: fx.root, Runner: fx.scripts, Observe: obs.hook,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	srv := newServer(t, h)
	for id, want := range map[string]bool{"abc-123": true, "bad id": false, strings.Repeat("x", 200): false} {
		req, _ := http.NewRequest("GET", srv.URL+"/cgi-bin/warn.py", nil)
		req.Header.Set("X-Request-Id", id)
		do(t, req)
		if got := obs.next(t).ID; (got == id) != want {
			t.Errorf("X-Request-Id %q from a trusted proxy gave id %q", id, got)
		}
	}
}

// TestCountingConn: the body of a taken-over connection starts after the
// first empty line, whether it ends with CRLF or LF and however the
// writes split it.
func TestCountingConn(t *testing.T) {
	for _, tc := range []struct {
		writes []string
		want   int64
	}{
		{[]string{"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"}, 4},
		{[]string{"HTTP/1.1 200 OK\nA: b\n\nbody!"}, 5},
		{[]string{"HTTP/1.1 200 OK\r\n", "A: b\r", "\n\r", "\n", "bo", "dy"}, 4},
		{[]string{"HTTP/1.1 200 OK\r\nA: b\r\n"}, 0},
		{[]string{"HTTP/1.1 200 OK\r\n\r\n"}, 0},
	} {
		c := &countingConn{Conn: discardConn{}}
		for _, w := range tc.writes {
			c.Write([]byte(w))
		}
		if c.body != tc.want {
			t.Errorf("writes %q: %d body bytes, want %d", tc.writes, c.body, tc.want)
		}
	}
}

// discardConn is a net.Conn whose writes succeed and go nowhere; its
// other methods are never called.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
