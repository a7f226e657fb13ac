package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/warmcgi/warmcgi/interp"
	"github.com/warmcgi/warmcgi/pyhost"
)

var netDialer net.Dialer

func (ci *cgiInterp) Close() error { return ci.ip.Close() }

// writeReply copies a reply built by run to a net/http response.
func writeReply(w http.ResponseWriter, out []byte) {
	// The handler writes the raw reply through a hijack-free path: the
	// status line and headers are parsed back into net/http's header map
	// as the real backend's cgienv layer does with a script's headers.
	_, rest, _ := bytes.Cut(out, []byte("\r\n"))
	head, body, _ := bytes.Cut(rest, []byte("\r\n\r\n"))
	h := w.Header()
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(": "))
		if ok {
			h[http.CanonicalHeaderKey(string(k))] = []string{string(v)}
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// serveToday is the hand-off as internal/backend's embedded mode does it:
// the same interp.Pool options (Spill with more than one worker, Parallel
// with a GIL each).
func serveToday(addr string, n int) error {
	var spill time.Duration
	if n > 1 {
		spill = 2 * time.Millisecond
	}
	pool, err := interp.New(interp.Options{Workers: n, QueueSize: 128, Spill: spill,
		Parallel: pyhost.OwnGILSupported()}, func(int) (*cgiInterp, error) { return newCGIInterp() })
	if err != nil {
		return err
	}
	h := func(w http.ResponseWriter, r *http.Request) {
		var reply []byte
		var runErr error
		err := pool.Do(r.Context(), func(ci *cgiInterp) {
			if runErr = ci.run(r.Method, r.URL.RawQuery, true); runErr == nil {
				// The job's buffers belong to the worker: copy out, as
				// the backend copies pyhost's Result.
				reply = append(reply, ci.out...)
			}
		})
		if err = errors.Join(err, runErr); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeReply(w, reply)
	}
	return listenHTTP(addr, h)
}

// serveCaller runs each request on its connection's goroutine, locked to
// its OS thread while the request runs; sem admits n at a time.
func serveCaller(addr string, n int) error {
	sem := make(chan struct{}, n)
	var mu sync.Mutex // n == 1: a mutex, which spins before it parks
	h := func(w http.ResponseWriter, r *http.Request) {
		var reply []byte
		if n == 1 {
			mu.Lock()
		} else {
			sem <- struct{}{}
		}
		runtime.LockOSThread()
		ci := threadInterp()
		err := ci.run(r.Method, r.URL.RawQuery, true)
		if err == nil {
			reply = append(reply, ci.out...)
		}
		runtime.UnlockOSThread()
		if n == 1 {
			mu.Unlock()
		} else {
			<-sem
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeReply(w, reply)
	}
	return listenHTTP(addr, h)
}

// serveStatic answers from net/http with the script's reply and no Python:
// the floor of the net/http designs on this machine.
func serveStatic(addr string, _ int) error {
	return listenHTTP(addr, func(w http.ResponseWriter, _ *http.Request) { writeReply(w, staticReply) })
}

func listenHTTP(addr string, h http.HandlerFunc) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// loopServer is the event-loop design: gnet calls OnTraffic on the loop's
// own goroutine, locked to its thread (WithLockOSThread).
type loopServer struct {
	gnet.BuiltinEventEngine
	// static answers hello's bytes without Python: the loop's floor.
	static bool
}

var staticReply = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n")

// OnTraffic parses every whole request in the connection's buffer with
// net/http's parser, runs each on this thread and writes the replies.
func (s *loopServer) OnTraffic(c gnet.Conn) gnet.Action {
	var ci *cgiInterp
	if !s.static {
		ci = threadInterp()
	}
	buf, _ := c.Peek(-1)
	for len(buf) > 0 {
		br := bytes.NewReader(buf)
		rd := bufio.NewReaderSize(br, 4096)
		req, err := http.ReadRequest(rd)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return gnet.None // wait for the rest
		}
		if err != nil {
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
			return gnet.Close
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return gnet.None // body not all here yet
		}
		used := len(buf) - br.Len() - rd.Buffered()
		keep := !req.Close
		if s.static {
			_, _ = c.Write(staticReply)
			_, _ = c.Discard(used)
			buf = buf[used:]
			continue
		}
		if err := ci.run(req.Method, req.URL.RawQuery, keep); err != nil {
			_, _ = c.Write([]byte("HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
			return gnet.Close
		}
		_, _ = c.Write(ci.out)
		_, _ = c.Discard(used)
		if !keep {
			return gnet.Close
		}
		buf = buf[used:]
	}
	return gnet.None
}

func serveLoop(addr string, n int) error { return runLoop(addr, n, false) }

// serveLoopStatic is the loop design answering without Python.
func serveLoopStatic(addr string, n int) error { return runLoop(addr, n, true) }

func runLoop(addr string, n int, static bool) error {
	errc := make(chan error, 1)
	go func() {
		errc <- gnet.Run(&loopServer{static: static}, "tcp://"+addr, gnet.WithMulticore(true),
			gnet.WithNumEventLoop(n), gnet.WithLockOSThread(true), gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLogger(quiet{}))
	}()
	select {
	case err := <-errc:
		return err
	case <-time.After(200 * time.Millisecond):
		return nil
	}
}

// quiet is gnet's logger: gnet logs to stdout, where the CSV row goes.
type quiet struct{}

func (quiet) Debugf(string, ...any) {}
func (quiet) Infof(string, ...any)  {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Errorf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "gnet: "+f+"\n", a...)
}
func (quiet) Fatalf(f string, a ...any) { fail(fmt.Errorf("gnet: "+f, a...)) }
