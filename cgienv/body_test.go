package cgienv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// TestSpoolBody: the body lands in an unlinked file positioned at its
// start; a read error leaves no file open and is wrapped.
func TestSpoolBody(t *testing.T) {
	body := strings.Repeat("0123456789", 200_000)
	f, err := SpoolBody(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := os.Stat(f.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spooled file %s still has a name (Stat: %v)", f.Name(), err)
	}
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, []byte(body)) {
		t.Errorf("spooled %d bytes, want the %d of the body", len(got), len(body))
	}

	broken := errors.New("connection reset")
	f, err = SpoolBody(io.MultiReader(strings.NewReader("part"), iotest.ErrReader(broken)))
	if f != nil {
		f.Close()
		t.Error("SpoolBody returned a file with an error")
	}
	if !errors.Is(err, broken) || !strings.Contains(err.Error(), "reading the request body") {
		t.Errorf("SpoolBody error = %v, want the read error wrapped", err)
	}
}

// TestReadBodySpool: a body past spoolAt is spooled to a file, checked
// against its Content-Length and the limit like one in memory.
func TestReadBodySpool(t *testing.T) {
	big := strings.Repeat("x", 2*spoolAt)
	tests := []struct {
		name    string
		body    io.Reader
		cl      int64 // -1: unknown length (chunked)
		limit   int64
		status  int
		want    string
		spooled bool
	}{
		{"at spoolAt, in memory", strings.NewReader(big[:spoolAt]), spoolAt, -1, 0, big[:spoolAt], false},
		{"past spoolAt", strings.NewReader(big[:spoolAt+1]), spoolAt + 1, -1, 0, big[:spoolAt+1], true},
		{"chunked past spoolAt", strings.NewReader(big), -1, 3 * spoolAt, 0, big, true},
		{"chunked over the limit", strings.NewReader(big), -1, 3 * spoolAt / 2, 413, "", false},
		{"shorter than its Content-Length", strings.NewReader(big[:3*spoolAt/2]), 2 * spoolAt, -1, 400, "", false},
		{"read error while spooling", io.MultiReader(strings.NewReader(big), iotest.ErrReader(errors.New("reset"))), -1, -1, 400, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/cgi-bin/x", tt.body)
			r.ContentLength = tt.cl
			if tt.cl < 0 {
				r.TransferEncoding = []string{"chunked"}
			}
			data, file, n, has, status := readBody(r, tt.limit)
			if file != nil {
				defer file.Close()
			}
			if status != tt.status || !has {
				t.Fatalf("status %d, has %v; want %d, true", status, has, tt.status)
			}
			if status != 0 {
				if data != nil || file != nil {
					t.Error("a failed read returned a body")
				}
				return
			}
			if (file != nil) != tt.spooled {
				t.Fatalf("spooled = %v, want %v", file != nil, tt.spooled)
			}
			if file != nil {
				if data, _ = io.ReadAll(file); data == nil {
					data = []byte{}
				}
			}
			if n != int64(len(tt.want)) || string(data) != tt.want {
				t.Errorf("read %d bytes (n %d), want %d", len(data), n, len(tt.want))
			}
		})
	}
}

// TestChunkedBody: a body of unknown length reaches the Runner as Apache
// hands it on (no CONTENT_LENGTH, HTTP_TRANSFER_ENCODING=chunked): whole
// within streamAt, as it arrives past it, and 413 over MaxBody, before the
// script when the first part already passes it, after it otherwise.
func TestChunkedBody(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "s.py"), []byte("#!/usr/bin/python3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("0123456789abcdef", 3*streamAt/16)
	tests := []struct {
		name     string
		body     string
		limit    int64
		ran      bool // the Runner got the request
		streamed bool // ... as StdinStream
		got      int  // bytes it read
		status   int
	}{
		{"small, whole", big[:streamAt], -1, true, false, streamAt, 200},
		{"large, streamed", big, -1, true, true, len(big), 200},
		{"large, at the limit", big, int64(len(big)), true, true, len(big), 200},
		{"passes the limit while streamed", big, 2 * streamAt, true, true, 2 * streamAt, 413},
		{"passes the limit before the script", big, streamAt / 2, false, false, 0, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env map[string]string
			var got []byte
			var readErr error
			ran, streamed := false, false
			run := runnerFunc(func(_ context.Context, req *Request) (*Output, error) {
				ran, streamed = true, req.StdinStream != nil
				env = envMap(t, req.Env)
				if req.StdinStream != nil {
					got, readErr = io.ReadAll(req.StdinStream)
				} else {
					got = req.Stdin
				}
				return &Output{Stdout: []byte("Content-Type: text/plain\n\nok")}, nil
			})
			h := &Handler{Root: root, Runner: run, StreamBodies: true, MaxBody: tt.limit}
			r := httptest.NewRequest("POST", "/cgi-bin/s.py", io.MultiReader(strings.NewReader(tt.body)))
			r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || ran != tt.ran || streamed != tt.streamed {
				t.Fatalf("status %d, ran %v, streamed %v; want %d, %v, %v", w.Code, ran, streamed, tt.status, tt.ran, tt.streamed)
			}
			if !ran {
				return
			}
			if string(got) != tt.body[:tt.got] {
				t.Errorf("the script read %d bytes, want the first %d of the body", len(got), tt.got)
			}
			var tooBig *http.MaxBytesError
			if (tt.status == 413) != errors.As(readErr, &tooBig) {
				t.Errorf("read error %v; want *http.MaxBytesError only past the limit", readErr)
			}
			if v, ok := env["CONTENT_LENGTH"]; ok || env["HTTP_TRANSFER_ENCODING"] != "chunked" {
				t.Errorf("CONTENT_LENGTH %q (set: %v), HTTP_TRANSFER_ENCODING %q; want none and chunked",
					v, ok, env["HTTP_TRANSFER_ENCODING"])
			}
		})
	}
}
