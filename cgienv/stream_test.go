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
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// goid is the id of the calling goroutine, from its stack header.
func goid() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf[:n]), "goroutine "), " ")
	return id
}

// threadWriter is a ResponseWriter that records the goroutines it is used
// on, and can fail its writes like a client that left.
type threadWriter struct {
	mu      sync.Mutex
	header  http.Header
	status  int
	body    bytes.Buffer
	flushes int
	used    map[string]bool // goroutine ids
	fail    bool
}

func (w *threadWriter) note() {
	w.mu.Lock()
	w.used[goid()] = true
	w.mu.Unlock()
}
func (w *threadWriter) Header() http.Header  { return w.header }
func (w *threadWriter) WriteHeader(code int) { w.note(); w.status = code }
func (w *threadWriter) Flush()               { w.note(); w.flushes++ }
func (w *threadWriter) Write(p []byte) (int, error) {
	w.note()
	if w.fail {
		return 0, errors.New("broken pipe")
	}
	return w.body.Write(p)
}

// TestStreamOffThread: Request.Stream, called from an OS-locked thread as
// the embedded backend calls it, never writes to the client itself: the
// request's writer goroutine does, and Stream gives its answers (Keep
// until the header block is complete, Sent, Decline, Gone) as before.
func TestStreamOffThread(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "s.py"), []byte("#!/usr/bin/python3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		chunks  []string
		fail    bool
		answers []StreamAnswer
		status  int
		body    string
	}{
		{
			name:    "streamed",
			chunks:  []string{"Content-Type: text/plain\n", "Content-Type: text/plain\n\nfirst ", "second "},
			answers: []StreamAnswer{StreamKeep, StreamSent, StreamSent},
			status:  200, body: "first second rest",
		},
		{
			name:    "redirect declined",
			chunks:  []string{"Location: http://example.com/\n\nmoved"},
			answers: []StreamAnswer{StreamDecline},
			status:  302,
		},
		{
			name:    "client gone",
			chunks:  []string{"Content-Type: text/plain\n\nfirst ", "second "},
			fail:    true,
			answers: []StreamAnswer{StreamGone, StreamGone},
			status:  200,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []StreamAnswer
			var caller string
			run := runnerFunc(func(_ context.Context, req *Request) (*Output, error) {
				done := make(chan struct{})
				go func() { // the interpreter's thread
					defer close(done)
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					caller = goid()
					for _, c := range tt.chunks {
						got = append(got, req.Stream([]byte(c)))
					}
				}()
				<-done
				rest := "rest"
				if got[len(got)-1] != StreamSent {
					rest = tt.chunks[len(tt.chunks)-1] // kept: all of it comes back
				}
				return &Output{Stdout: []byte(rest)}, nil
			})
			before := runtime.NumGoroutine()
			h := &Handler{Root: root, Runner: run}
			w := &threadWriter{header: http.Header{}, used: map[string]bool{}, fail: tt.fail}
			h.ServeHTTP(w, httptest.NewRequest("GET", "/cgi-bin/s.py", nil))
			if !equalAnswers(got, tt.answers) {
				t.Errorf("answers %v, want %v", got, tt.answers)
			}
			if w.used[caller] {
				t.Error("the thread that called Stream wrote to the client")
			}
			if w.status != tt.status || tt.body != "" && w.body.String() != tt.body {
				t.Errorf("response %d %q, want %d %q", w.status, w.body.String(), tt.status, tt.body)
			}
			// The writer goroutine ends with the request.
			for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
				if time.Now().After(deadline) {
					t.Fatalf("%d goroutines after the request, %d before", runtime.NumGoroutine(), before)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

func equalAnswers(a, b []StreamAnswer) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// goidReader records the goroutines it is read on.
type goidReader struct {
	r    io.Reader
	mu   sync.Mutex
	used map[string]bool
}

func (g *goidReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	g.used[goid()] = true
	g.mu.Unlock()
	return g.r.Read(p)
}

// TestStreamedBodyOffThread: a body read as it arrives (StdinStream) is
// read from the client by the request's reader goroutine, never on the
// thread of the Runner that reads it, and not at all once Run returned.
func TestStreamedBodyOffThread(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "s.py"), []byte("#!/usr/bin/python3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("b", 3*streamAt)
	var caller string
	var got []byte
	var readErr error
	var kept io.Reader
	run := runnerFunc(func(_ context.Context, req *Request) (*Output, error) {
		if req.StdinStream == nil {
			return nil, errors.New("no StdinStream")
		}
		done := make(chan struct{})
		go func() { // the interpreter's thread
			defer close(done)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			caller = goid()
			got, readErr = io.ReadAll(req.StdinStream)
		}()
		<-done
		kept = req.StdinStream
		return &Output{Stdout: []byte("Content-Type: text/plain\n\nok")}, nil
	})
	before := runtime.NumGoroutine()
	h := &Handler{Root: root, Runner: run, StreamBodies: true}
	src := &goidReader{r: strings.NewReader(body), used: map[string]bool{}}
	r := httptest.NewRequest("POST", "/cgi-bin/s.py", io.NopCloser(src))
	r.ContentLength = int64(len(body))
	w := &threadWriter{header: http.Header{}, used: map[string]bool{}}
	h.ServeHTTP(w, r)
	if readErr != nil || string(got) != body {
		t.Fatalf("read %d bytes (%v), want the %d of the body", len(got), readErr, len(body))
	}
	if w.status != 200 || w.body.String() != "ok" {
		t.Errorf("response %d %q", w.status, w.body.String())
	}
	if src.used[caller] {
		t.Error("the thread that read StdinStream read from the client")
	}
	if n, err := kept.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("a read after Run returned gave %d, %v; want an error", n, err)
	}
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the request, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
}
