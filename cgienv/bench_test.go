package cgienv

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// discardWriter is the cheapest http.ResponseWriter: the benchmark below
// measures the Handler, not a recorder. Its header map is emptied, not
// replaced, between requests, as net/http reuses nothing either way.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// BenchmarkServeHTTP is one GET of a hello-world script through the whole
// Handler (resolve, environment, Runner, response parsing and writing),
// with a Runner that answers at once: what the Go side costs per request
// around the script. "info-log" adds the default per-request log record,
// written to io.Discard; "access-logged" is the same logger with the
// record at Debug, as the server has it when an access log is on;
// "stat-cached" is "no-log" with the server's StatInterval, and
// "stat-watched" that with the server's inotify watch (ChangesPending: one
// stat of the script per request).
func BenchmarkServeHTTP(b *testing.B) {
	root := b.TempDir()
	script := filepath.Join(root, "hello.py")
	if err := os.WriteFile(script, []byte("#!/usr/bin/python3\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	out := &Output{Stdout: []byte("Content-Type: text/plain\n\nHello, world!\n")}
	run := runnerFunc(func(context.Context, *Request) (*Output, error) { return out, nil })
	info := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name   string
		logger *slog.Logger
		level  slog.Level
		stat   time.Duration
		watch  func() bool
	}{
		{"no-log", nil, slog.LevelInfo, 0, nil},
		{"stat-cached", nil, slog.LevelInfo, time.Second, nil},
		{"stat-watched", nil, slog.LevelInfo, time.Second, func() bool { return false }},
		{"info-log", info, slog.LevelInfo, 0, nil},
		{"access-logged", info, slog.LevelDebug, 0, nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := &Handler{Root: root, Runner: run, Logger: tc.logger, RequestLogLevel: tc.level, StatInterval: tc.stat, ChangesPending: tc.watch}
			r, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:8080/cgi-bin/hello.py", nil)
			if err != nil {
				b.Fatal(err)
			}
			r.RemoteAddr = "127.0.0.1:40000"
			r.RequestURI = "/cgi-bin/hello.py"
			r.Header.Set("User-Agent", "wrk")
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
