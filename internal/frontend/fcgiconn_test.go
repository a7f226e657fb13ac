package frontend

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

// memConn is a connection whose input is a fixed byte stream (then EOF)
// and whose output is recorded, with the number of writes.
type memConn struct {
	in     *bytes.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	writes int
	closed bool
}

func (c *memConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	return c.in.Read(p)
}

func (c *memConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.writes++
	if c.out.Len() < 8<<20 {
		c.out.Write(p)
	}
	return len(p), nil
}

func (c *memConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// serveBytes serves one connection whose input is in, until it ends, and
// returns what the server wrote and in how many writes. It fails the test
// if the connection is not done within 10 s.
func serveBytes(t testing.TB, s *FastCGIServer, in []byte) (out []byte, writes int) {
	t.Helper()
	mc := &memConn{in: bytes.NewReader(in)}
	c := &fcgiConn{s: s, conn: mc}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { c.serve(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the connection was not done 10 s after its input ended")
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.out.Bytes(), mc.writes
}

type testRecord struct {
	typ     byte
	id      uint16
	content string
}

// records appends an input record with the given padding.
func records(b []byte, typ byte, id uint16, content string, padding int) []byte {
	b = append(b, 1, typ, byte(id>>8), byte(id), byte(len(content)>>8), byte(len(content)), byte(padding), 0)
	return append(append(b, content...), make([]byte, padding)...)
}

// parseRecords splits the server's output into records.
func parseRecords(out []byte) ([]testRecord, error) {
	var recs []testRecord
	for len(out) > 0 {
		if len(out) < 8 || out[0] != 1 {
			return recs, fmt.Errorf("malformed record header at %q", out[:min(len(out), 8)])
		}
		n, pad := int(binary.BigEndian.Uint16(out[4:])), int(out[6])
		if len(out) < 8+n+pad {
			return recs, fmt.Errorf("record of %d bytes cut short", n)
		}
		recs = append(recs, testRecord{out[1], binary.BigEndian.Uint16(out[2:]), string(out[8 : 8+n])})
		out = out[8+n+pad:]
	}
	return recs, nil
}

// stdoutOf returns the FCGI_STDOUT content of request id and whether an
// FCGI_END_REQUEST for it came, with its protocol status.
func stdoutOf(recs []testRecord, id uint16) (stdout string, ended bool, status byte) {
	var b strings.Builder
	for _, r := range recs {
		if r.id != id {
			continue
		}
		switch r.typ {
		case recStdout:
			b.WriteString(r.content)
		case recEndRequest:
			return b.String(), true, r.content[4]
		}
	}
	return b.String(), false, 0
}

// beginParams appends FCGI_BEGIN_REQUEST and the parameters of a request.
func beginParams(b []byte, id uint16, keep bool, params map[string]string) []byte {
	flags := byte(0)
	if keep {
		flags = flagKeepConn
	}
	b = records(b, recBeginRequest, id, string([]byte{0, roleResponder, flags, 0, 0, 0, 0, 0}), 0)
	var p []byte
	for k, v := range params {
		p = fcgiAppendPair(p, k, v)
	}
	b = records(b, recParams, id, string(p), 3)
	return records(b, recParams, id, "", 0)
}

// echoHandler answers with the request's path, a header's value and the
// body it read (or the read's error).
func echoHandler(t testing.TB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Exactly CONTENT_LENGTH, as cgienv reads: the body's last
		// record's padding is left to the connection.
		body := make([]byte, max(r.ContentLength, 0))
		_, err := io.ReadFull(r.Body, body)
		if r.ContentLength <= 0 {
			body, err = io.ReadAll(r.Body)
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s body=%q err=%v", r.URL.Path, r.Header.Get("X-Long"), body, err)
	})
}

// TestFastCGIProtocol: the record layer as the FastCGI spec and
// net/http/fcgi have it: FCGI_GET_VALUES answered, a second request on a
// connection refused (FCGI_CANT_MPX_CONN) before and while one runs, an
// unknown role and an unknown record type answered, 4-byte pair lengths
// and padding read, FCGI_ABORT_REQUEST ending a request whose body is
// being read, with the kept connection serving the next one.
func TestFastCGIProtocol(t *testing.T) {
	s := NewFastCGIServer(echoHandler(t), false, discard())
	long := strings.Repeat("v", 300) // a 4-byte value length
	params := map[string]string{"REQUEST_METHOD": "POST", "REQUEST_URI": "/p", "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_X_LONG": long, "CONTENT_LENGTH": "3"}

	var in []byte
	in = records(in, recGetValues, 0, string(fcgiAppendPair(fcgiAppendPair(nil, "FCGI_MPXS_CONNS", ""), "FCGI_MAX_REQS", "")), 0)
	in = records(in, recBeginRequest, 7, string([]byte{0, 2, 0, 0, 0, 0, 0, 0}), 0) // the authorizer role
	in = beginParams(in, 1, true, params)
	in = records(in, recBeginRequest, 2, string([]byte{0, roleResponder, 0, 0, 0, 0, 0, 0}), 0) // while 1 waits
	in = records(in, 42, 1, "x", 7)                                                             // an unknown type
	in = records(in, recStdin, 1, "ab", 6)
	in = records(in, recBeginRequest, 3, string([]byte{0, roleResponder, 0, 0, 0, 0, 0, 0}), 0) // while 1 runs
	in = records(in, recStdin, 1, "c", 0)
	in = records(in, recStdin, 1, "", 0)
	// The second request on the kept connection is aborted while its body is read.
	in = beginParams(in, 1, true, params)
	in = records(in, recStdin, 1, "a", 0)
	in = records(in, recAbortRequest, 1, "", 0)
	// The third is served, and after it the fourth (the padding of the
	// third's body read, not skipped twice).
	params["REQUEST_URI"] = "/third"
	in = beginParams(in, 1, true, params)
	in = records(in, recStdin, 1, "xyz", 5)
	in = records(in, recStdin, 1, "", 3)
	params["REQUEST_URI"] = "/fourth"
	in = beginParams(in, 1, false, params)
	in = records(in, recStdin, 1, "123", 5)
	in = records(in, recStdin, 1, "", 0)

	out, _ := serveBytes(t, s, in)
	recs, err := parseRecords(out)
	if err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	want := []string{
		"type 10 id 0: \x0f\x01FCGI_MPXS_CONNS0",        // GET_VALUES_RESULT
		"type 3 id 7: \x00\x00\x00\x00\x03\x00\x00\x00", // UNKNOWN_ROLE
		"type 3 id 2: \x00\x00\x00\x00\x01\x00\x00\x00", // CANT_MPX_CONN
		"type 11 id 0: *\x00\x00\x00\x00\x00\x00\x00",   // UNKNOWN_TYPE 42
		"type 3 id 3: \x00\x00\x00\x00\x01\x00\x00\x00", // CANT_MPX_CONN
	}
	for i, w := range want {
		if i >= len(recs) || fmt.Sprintf("type %d id %d: %s", recs[i].typ, recs[i].id, recs[i].content) != w {
			t.Fatalf("record %d: %+v, want %q (all: %+v)", i, recs[min(i, len(recs)-1)], w, recs)
		}
	}
	recs = recs[len(want):]
	first, ended, status := stdoutOf(recs, 1)
	if !ended || status != statusRequestComplete || !strings.HasSuffix(first, `/p `+long+` body="abc" err=<nil>`) || !strings.HasPrefix(first, "Status: 200 OK\r\n") {
		t.Fatalf("first request: %q ended %v status %d", first, ended, status)
	}
	// The first request's records, then the aborted one's FCGI_END_REQUEST
	// (and nothing it wrote), then the third's.
	for len(recs) > 0 && recs[0].typ != recEndRequest {
		recs = recs[1:]
	}
	if len(recs) < 2 || recs[1].typ != recEndRequest {
		t.Fatalf("after the first request: %+v; want the aborted one's FCGI_END_REQUEST alone", recs)
	}
	third, ended, _ := stdoutOf(recs[2:], 1)
	if !ended || !strings.HasSuffix(third, `/third `+long+` body="xyz" err=<nil>`) {
		t.Errorf("third request: %q ended %v", third, ended)
	}
	for len(recs) > 2 && recs[2].typ != recEndRequest {
		recs = recs[1:]
	}
	fourth, ended, _ := stdoutOf(recs[3:], 1)
	if !ended || !strings.HasSuffix(fourth, `/fourth `+long+` body="123" err=<nil>`) {
		t.Errorf("fourth request: %q ended %v", fourth, ended)
	}
}

// TestFastCGIOutputRecords: a small response goes out in one write with
// the records that end it; a large one in FCGI_STDOUT records of at most
// 65535 bytes, none of them empty before the last, its content intact.
func TestFastCGIOutputRecords(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 20_000) // 320 kB
	s := NewFastCGIServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/big" {
			io.WriteString(w, big[:100])
			http.NewResponseController(w).Flush()
			io.WriteString(w, big[100:])
			return
		}
		io.WriteString(w, "Hello, world!\n")
	}), false, discard())
	params := map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/small", "SERVER_PROTOCOL": "HTTP/1.1"}
	in := records(beginParams(nil, 1, false, params), recStdin, 1, "", 0)
	out, writes := serveBytes(t, s, in)
	recs, err := parseRecords(out)
	stdout, ended, _ := stdoutOf(recs, 1)
	if err != nil || writes != 1 || !ended || !strings.HasSuffix(stdout, "\r\n\r\nHello, world!\n") {
		t.Errorf("small response: %d writes, %q ended %v, %v; want 1 write", writes, stdout, ended, err)
	}

	params["REQUEST_URI"] = "/big"
	in = records(beginParams(nil, 1, false, params), recStdin, 1, "", 0)
	out, _ = serveBytes(t, s, in)
	recs, err = parseRecords(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.typ == recStdout && r.content == "" && (i+1 >= len(recs) || recs[i+1].typ != recEndRequest) {
			t.Errorf("an empty FCGI_STDOUT record before the end (record %d of %d)", i, len(recs))
		}
	}
	if stdout, ended, _ := stdoutOf(recs, 1); !ended || !strings.HasSuffix(stdout, "\r\n\r\n"+big) {
		t.Errorf("big response: %d bytes, ended %v", len(stdout), ended)
	}
	// The header block and the first 100 bytes, flushed; then full records.
	if len(recs) < 6 || !strings.HasSuffix(recs[0].content, "\r\n\r\n"+big[:100]) || len(recs[1].content) != maxRecordContent {
		t.Errorf("big response's records: %d, the first two of %d and %d bytes; want the flushed header block and 100 bytes, then a full record",
			len(recs), len(recs[0].content), len(recs[1].content))
	}
}

// TestFastCGITooLarge: more than maxParams of parameters are answered 431
// without running the handler.
func TestFastCGITooLarge(t *testing.T) {
	ran := false
	s := NewFastCGIServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }), false, discard())
	in := records(nil, recBeginRequest, 1, string([]byte{0, roleResponder, 0, 0, 0, 0, 0, 0}), 0)
	chunk := string(fcgiAppendPair(nil, "HTTP_X", strings.Repeat("x", 60_000)))
	for range maxParams/len(chunk) + 1 {
		in = records(in, recParams, 1, chunk, 0)
	}
	in = records(records(in, recParams, 1, "", 0), recStdin, 1, "", 0)
	out, _ := serveBytes(t, s, in)
	recs, _ := parseRecords(out)
	if stdout, ended, _ := stdoutOf(recs, 1); ran || !ended || !strings.HasPrefix(stdout, "Status: 431 ") {
		t.Errorf("handler ran %v; response %q ended %v; want 431", ran, stdout, ended)
	}
}

// fuzzRunner reads the body the handler gives it and answers with its
// environment; with "stream" in the query it streams first, with "cut"
// it then fails as a timed-out script (the connection is cut).
type fuzzRunner struct{}

func (fuzzRunner) Run(_ context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	n := len(req.Stdin)
	if req.StdinStream != nil {
		m, _ := io.Copy(io.Discard, req.StdinStream)
		n += int(m)
	}
	q := ""
	for _, e := range req.Env {
		if v, ok := strings.CutPrefix(e, "QUERY_STRING="); ok {
			q = v
		}
	}
	if strings.Contains(q, "stream") && req.Stream != nil {
		req.Stream([]byte("Content-Type: text/plain\n\nfirst\n"))
		if strings.Contains(q, "cut") {
			return nil, context.DeadlineExceeded
		}
	}
	return &cgienv.Output{Stdout: fmt.Appendf(nil, "Content-Type: text/plain\n\n%d %s\n", n, strings.Join(req.Env, "\n"))}, nil
}

// FuzzFastCGIConn feeds arbitrary byte streams to a FastCGI connection
// served by cgienv.Handler: it must never panic, must be done soon after
// its input ends, must leave no goroutine behind, and must write only
// well-formed records, an empty FCGI_STDOUT only right before its
// request's FCGI_END_REQUEST.
func FuzzFastCGIConn(f *testing.F) {
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "env.py"), []byte("#!/usr/bin/python3\n"), 0o755); err != nil {
		f.Fatal(err)
	}
	h := &cgienv.Handler{Root: dir, Prefix: "/cgi-bin/", Runner: fuzzRunner{}, Logger: discard(), MaxBody: 1 << 20}
	params := nginxParams()
	for _, q := range []string{"/cgi-bin/env.py?x", "/cgi-bin/env.py?stream", "/cgi-bin/env.py?stream,cut", "/other"} {
		params["REQUEST_URI"] = q
		for _, keep := range []bool{false, true} {
			in := beginParams(nil, 1, keep, params)
			in = records(in, recStdin, 1, "body", 4)
			in = records(in, recStdin, 1, "", 0)
			f.Add(append(in, beginParams(nil, 1, keep, params)...))
		}
	}
	params["CONTENT_LENGTH"] = "5"
	params["REQUEST_METHOD"] = "POST"
	in := records(beginParams(nil, 1, true, params), recStdin, 1, "ab", 0)
	f.Add(records(records(in, recAbortRequest, 1, "", 0), recGetValues, 0, "", 0))
	f.Add(records(records(in, recBeginRequest, 2, "\x00\x01\x00\x00\x00\x00\x00\x00", 0), 99, 1, "", 0))

	s := NewFastCGIServer(h, false, discard())
	f.Fuzz(func(t *testing.T, in []byte) {
		before := runtime.NumGoroutine()
		out, _ := serveBytes(t, s, in)
		recs, err := parseRecords(out)
		if err != nil {
			t.Fatalf("%v in the output %q", err, out)
		}
		for i, r := range recs {
			if r.typ == recStdout && r.content == "" && (i+1 >= len(recs) || recs[i+1].typ != recEndRequest || recs[i+1].id != r.id) {
				t.Fatalf("an empty FCGI_STDOUT not followed by its FCGI_END_REQUEST: record %d of %+v", i, recs)
			}
		}
		for end := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				buf := make([]byte, 1<<16)
				t.Fatalf("%d goroutines left behind:\n%s", runtime.NumGoroutine()-before, buf[:runtime.Stack(buf, true)])
			}
		}
	})
}
