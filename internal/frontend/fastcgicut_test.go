package frontend

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/warmcgi/warmcgi/cgienv"
)

// streamThenRunner streams a header block and a first line, then ends as
// err says: nil is a complete response, an error one the script could not
// finish (a timeout after the headers).
type streamThenRunner struct{ err error }

func (r streamThenRunner) Run(_ context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	if req.Stream == nil || req.Stream([]byte("Content-Type: text/plain\n\npartial\n")) != cgienv.StreamSent {
		return nil, errors.New("the request was not streamed")
	}
	if r.err != nil {
		return nil, r.err
	}
	return &cgienv.Output{Stdout: []byte("rest\n")}, nil
}

// readRecords reads what the server sends for a request until it ends it
// (FCGI_END_REQUEST) or ends the connection: the FCGI_STDOUT content
// and whether the request ended.
func (c *fcgiClient) readRecords(t *testing.T) (stdout string, ended bool) {
	t.Helper()
	var out strings.Builder
	for {
		var h [8]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			// A TCP connection is reset (resetTCP), after what was
			// written arrived.
			if err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("reading a record: %v", err)
			}
			return out.String(), false
		}
		body := make([]byte, int(binary.BigEndian.Uint16(h[4:6]))+int(h[6]))
		if _, err := io.ReadFull(c.r, body); err != nil {
			t.Fatalf("reading a record's content: %v", err)
		}
		switch h[1] {
		case fcgiStdout:
			out.Write(body[:binary.BigEndian.Uint16(h[4:6])])
		case fcgiEndRequest:
			return out.String(), true
		}
	}
}

// TestFastCGICutResponse: a response that cannot be finished after its
// headers went out (the Runner fails then: a --timeout) ends with what
// was written and a connection ended (reset, over TCP) with no
// FCGI_END_REQUEST, so the front end sees it cut (nginx: "recv() failed
// (104: Connection reset by peer) while reading upstream", no last chunk
// to its client); a complete one ends with FCGI_END_REQUEST
// on a connection kept open. The server serves new connections after a cut.
func TestFastCGICutResponse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "env.py"), []byte("#!/usr/bin/python3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		err       error
		stdout    string
		wantEnded bool
	}{
		{"timed out", context.DeadlineExceeded, "partial\n", false},
		{"complete", nil, "partial\nrest\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &cgienv.Handler{Root: dir, Prefix: "/cgi-bin/", Runner: streamThenRunner{tc.err}, Logger: discard()}
			_, addr := serveFastCGI(t, h, false)
			for range 2 {
				c := dialFastCGI(t, addr)
				c.id++
				c.record(fcgiBeginRequest, []byte{0, fcgiResponder, fcgiKeepConn, 0, 0, 0, 0, 0})
				var p []byte
				for k, v := range nginxParams() {
					p = appendPair(p, k, v)
				}
				c.record(fcgiParams, p)
				c.record(fcgiParams, nil)
				c.record(fcgiStdin, nil)
				out, ended := c.readRecords(t)
				if _, body, _ := strings.Cut(out, "\r\n\r\n"); body != tc.stdout || ended != tc.wantEnded {
					t.Errorf("stdout %q (body %q), FCGI_END_REQUEST %v; want body %q, FCGI_END_REQUEST %v", out, body, ended, tc.stdout, tc.wantEnded)
				}
			}
		})
	}
}
