package cgienv

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// finish logs the request and hands its record to the observer. bytes,
// when not negative, is the body bytes sent (counted before a connection
// was taken over and cut).
func (f *flight) finish(bytes int64) {
	st, info := f.st, f.info
	info.Duration = time.Since(info.Start)
	if st.logger.Enabled(f.ctx, st.reqLevel) {
		st.logger.LogAttrs(f.ctx, st.reqLevel, "request",
			slog.String(keyMethod, f.r.Method),
			slog.String(keyPath, f.r.URL.Path),
			slog.Int(keyStatus, info.Status),
			slog.Duration(keyDuration, info.Duration))
	}
	if f.cw != nil {
		info.Bytes = bytes
		if bytes < 0 {
			info.Bytes = f.cw.sent()
		}
		info.RemoteAddr = st.remoteAddr(f.r)
		st.observe(f.r, info)
	}
}

// statusAbandoned is what serve returns for a request answered by
// flight.abandon while its script still ran.
const statusAbandoned = -2

// flight is one request while its script runs. A Runner that gives up on
// a script that overran its time limit and cannot be stopped
// (Request.Abandon) answers the client from another goroutine while the
// script goes on: mu orders that with everything the script does to the
// response (the streamer, reads of a streamed body).
type flight struct {
	ctx  context.Context
	st   *handlerState
	w    http.ResponseWriter
	r    *http.Request
	cw   *countingWriter // nil without an observer
	info *RequestInfo

	mu sync.Mutex
	// running: a Runner has the request; abandoned: the client was
	// answered while it ran, and the script's output is dropped.
	running, abandoned bool
	sm                 *streamer     // the running request's, or nil
	body               *flightReader // a body read as it arrives, or nil (set before start)

	// reset: a response cut short on a connection that could not be
	// taken over (HTTP/2); ServeHTTP resets its stream once it is logged.
	reset bool
	// wake, for a request on net/http's HTTP/2 (whose connection cannot
	// be taken over, and whose stream ends only when the handler
	// returns), is closed by abandon: the handler, waiting for Run on it,
	// then answers the client itself and returns; orphaned says that Run
	// was left running (runWake). nil: HTTP/1 and FastCGI.
	wake     chan struct{}
	orphaned bool
}

// start marks the request as handed to the Runner, with its streamer.
func (f *flight) start(sm *streamer) {
	f.mu.Lock()
	f.running, f.sm = true, sm
	f.mu.Unlock()
}

// stop marks the request as back from the Runner and ends the goroutines
// that wrote and read the connection for it; it reports whether the
// client was answered meanwhile, so that nothing else may be sent.
func (f *flight) stop() (abandoned bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sm != nil {
		f.sm.close()
	}
	if f.body != nil {
		f.body.close() // only the first script of a request gets the body
	}
	f.running, f.sm = false, nil
	return f.abandoned
}

// Abandon is for a Runner that gives up waiting for the script of the
// request, which overran its time limit and cannot be stopped (it caught
// the exception that ends it, or it is blocked in C), and that goes on
// running. It may be called from any goroutine while Run runs. The client
// is answered at once: 504, or, when part of the response is out, a cut
// connection (over HTTP/2, a reset stream; over FastCGI, a request ended
// without FCGI_END_REQUEST), as Apache does when it kills a script; from
// then on the script's output, its reads of the body and what Run returns
// are ignored. It reports false, having changed nothing, when the
// connection cannot be taken over (FastCGI before the headers went out: its
// 504 is written by taking the connection over) or Run has returned: the
// handler then answers when Run returns, as usual.
func (r *Request) Abandon() bool {
	if r.flight == nil {
		return false
	}
	return r.flight.abandon()
}

// runWake runs the request, and on HTTP/2 stops waiting for it when
// abandon closes f.wake: Run goes on (and returns into the void) on a
// goroutine of its own, which only HTTP/2 requests pay for.
func (f *flight) runWake(ctx context.Context, req *Request) (*Output, error) {
	if f.wake == nil {
		return f.st.runner.Run(ctx, req)
	}
	type result struct {
		out *Output
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := f.st.runner.Run(ctx, req)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-f.wake:
		f.orphaned = true
		return nil, nil
	}
}

// answerAbandoned answers, on the handler's goroutine, the HTTP/2 client
// of a request abandon gave up on: a response already begun is cut (its
// stream reset), else the client gets a 504. It returns the status sent.
func (f *flight) answerAbandoned(carry http.Header) int {
	if f.reset {
		return f.info.Status
	}
	return f.st.writeError(f.w, f.r, http.StatusGatewayTimeout, carry)
}

// cut ends a response whose headers went out by closing its connection
// after what was written is sent: the client sees no end of the body.
// Over HTTP/2, served by net/http, the stream is reset instead (f.reset):
// ending it normally would pass the cut body off as complete. FastCGI's
// writer ends its request without FCGI_END_REQUEST (responseCutter).
func (f *flight) cut() {
	if !cutConn(f.w, http.NewResponseController(f.w)) && f.wake != nil {
		f.reset = true
	}
}

// responseCutter is a ResponseWriter that can end its response as cut
// without giving its connection up: the FastCGI front end's, which closes
// the connection without FCGI_END_REQUEST.
type responseCutter interface {
	CutResponse() error
}

// cutConn flushes the response and closes its connection, where the
// writer lets the connection be taken (HTTP/1) or cuts its response itself
// (FastCGI, a responseCutter found through Unwrap); it reports whether it
// could.
func cutConn(w http.ResponseWriter, rc *http.ResponseController) bool {
	for u := w; u != nil; {
		if c, ok := u.(responseCutter); ok {
			return c.CutResponse() == nil
		}
		uw, ok := u.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		u = uw.Unwrap()
	}
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func (f *flight) abandon() bool {
	rc := http.NewResponseController(f.w)
	// A script waiting for more of a streamed body returns from the read
	// now (it holds mu while it reads). Where deadlines are not supported,
	// the connection cannot be taken over either.
	_ = rc.SetReadDeadline(time.Now())
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running || f.abandoned {
		return f.abandoned
	}
	st, info := f.st, f.info
	if f.wake != nil {
		return f.wakeAbandoned()
	}
	bytes := int64(-1)
	if f.sm != nil && f.sm.started {
		if f.cw != nil {
			bytes = f.cw.sent()
		}
		if !cutConn(f.w, rc) {
			_ = rc.SetReadDeadline(time.Time{})
			return false
		}
		info.Status = f.sm.status
	} else {
		body := st.page(http.StatusGatewayTimeout, errorTexts[http.StatusGatewayTimeout])
		hdr := f.w.Header()
		hdr.Set("Content-Type", htmlType)
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
		if !writeRaw(f.w, f.r, http.StatusGatewayTimeout, wireReason(http.StatusGatewayTimeout), []byte(body), false) {
			_ = rc.SetReadDeadline(time.Time{})
			return false
		}
		info.Status = http.StatusGatewayTimeout
	}
	f.setAbandoned()
	f.finish(bytes)
	return true
}

// wakeAbandoned is abandon for HTTP/2 (f.mu held): the handler answers,
// once woken, and logs the request when it returns.
func (f *flight) wakeAbandoned() bool {
	f.info.Status = http.StatusGatewayTimeout
	if f.sm != nil && f.sm.started {
		f.info.Status, f.reset = f.sm.status, true
	}
	f.setAbandoned()
	close(f.wake)
	return true
}

// setAbandoned drops what the script still does to the response and its
// body, and logs that it was given up on (f.mu held).
func (f *flight) setAbandoned() {
	f.abandoned = true
	if f.sm != nil {
		f.sm.close()
	}
	if f.body != nil {
		f.body.close()
	}
	f.info.TimedOut = true
	f.st.logger.LogAttrs(f.ctx, slog.LevelError, "script overran its time limit and cannot be stopped: the client is answered, the script runs on in an abandoned interpreter",
		slog.String(keyScript, f.info.Script), slog.Int(keyStatus, f.info.Status))
}

// flightReader is a streamed request body that a script stops reading
// from once its request has been abandoned. Like Stream, it is read on
// the Runner's thread, which must not touch the client's connection: each
// read is handed to a reader goroutine of the request's own, started at
// the first read, and waited for. The reader lives until Run returns or
// the request is abandoned.
type flightReader struct {
	f    *flight
	body io.Reader
	// pipe carries a buffer to the reader and the result back, the two
	// taking turns; made at the first read. pipe and closed are guarded
	// by f.mu.
	pipe   chan readTurn
	closed bool
}

// readTurn is a buffer on its way to the reader, or the result back.
type readTurn struct {
	p   []byte
	n   int
	err error
}

func (fr *flightReader) Read(p []byte) (int, error) {
	fr.f.mu.Lock()
	defer fr.f.mu.Unlock()
	switch {
	case fr.f.abandoned:
		return 0, errAbandoned
	case fr.closed:
		return 0, errBodyClosed
	case len(p) == 0:
		return 0, nil
	}
	if fr.pipe == nil {
		fr.pipe = make(chan readTurn)
		go fr.reader(fr.pipe)
	}
	fr.pipe <- readTurn{p: p}
	t := <-fr.pipe
	return t.n, t.err
}

// reader reads the body into the buffers Read hands over until the pipe
// is closed.
func (fr *flightReader) reader(pipe chan readTurn) {
	for t := range pipe {
		n, err := fr.body.Read(t.p)
		pipe <- readTurn{n: n, err: err}
	}
}

// close ends the reader, once no read is under way; f.mu is held.
func (fr *flightReader) close() {
	if fr.closed {
		return
	}
	fr.closed = true
	if fr.pipe != nil {
		close(fr.pipe)
	}
}

var errBodyClosed = errors.New("cgienv: request body read after the Runner returned")

var errAbandoned = errors.New("cgienv: request abandoned after its time limit")

// streamer sends a response while its script still runs, from the first
// flush after the header block is complete. Only plain documents stream:
// a redirect, an unusual status or reason phrase, HEAD and NPH scripts
// are answered once the script has ended, as before.
//
// Request.Stream is called on the Runner's thread: for the embedded
// backend, an interpreter's locked OS thread inside a cgo callback, which
// must never touch the client's connection. So a chunk is handed to a
// writer goroutine of the request's own, started at the first chunk (a
// request that never streams pays nothing), and Stream waits for its
// answer. The writer lives until Run returns or the request is abandoned.
type streamer struct {
	f      *flight
	w      http.ResponseWriter
	script *Script
	carry  http.Header
	status int
	// started: the response's headers are out. closed: the writer has
	// ended (or never will start), and Stream answers StreamGone.
	started, closed bool
	// pipe carries a chunk to the writer and the answer back, the two
	// taking turns; made at the first chunk. closed and pipe are guarded
	// by f.mu.
	pipe chan streamTurn
}

// streamTurn is a chunk on its way to the writer, or its answer back.
type streamTurn struct {
	chunk  []byte
	answer StreamAnswer
}

// send is Request.Stream. It holds the flight's lock until the writer has
// answered, so that the end of Run and Abandon wait for a write under way,
// and the handler goroutine and the writer never use w at once.
func (sm *streamer) send(chunk []byte) StreamAnswer {
	sm.f.mu.Lock()
	defer sm.f.mu.Unlock()
	if sm.f.abandoned || sm.closed {
		return StreamGone
	}
	if sm.pipe == nil {
		sm.pipe = make(chan streamTurn)
		go sm.writer(sm.pipe)
	}
	sm.pipe <- streamTurn{chunk: chunk} // valid until answered: the writer is done with it then
	return (<-sm.pipe).answer
}

// writer writes the chunks Stream hands over until the pipe is closed.
func (sm *streamer) writer(pipe chan streamTurn) {
	for t := range pipe {
		pipe <- streamTurn{answer: sm.write(t.chunk)}
	}
}

// close ends the writer, once no chunk is being written; f.mu is held.
func (sm *streamer) close() {
	if sm.closed {
		return
	}
	sm.closed = true
	if sm.pipe != nil {
		close(sm.pipe)
	}
}

// write sends one chunk to the client: the headers and the start of the
// body once the header block is complete, then the body as it comes.
func (sm *streamer) write(chunk []byte) StreamAnswer {
	if sm.started {
		if _, err := sm.w.Write(chunk); err != nil {
			return StreamGone
		}
		if err := http.NewResponseController(sm.w).Flush(); err != nil {
			return StreamGone
		}
		return StreamSent
	}
	resp, err := ParseResponse(chunk)
	if errors.Is(err, ErrNoHeaderEnd) {
		return StreamKeep
	}
	if err != nil || resp.InvalidStatus || resp.Status < 200 ||
		resp.Status == http.StatusNoContent || resp.Status == http.StatusNotModified ||
		resp.Reason != wireReason(resp.Status) {
		return StreamDecline
	}
	if _, ok := resp.Header["Location"]; ok {
		return StreamDecline
	}
	hdr := sm.w.Header()
	mergeInto(hdr, sm.carry, "")
	mergeInto(hdr, resp.Header, "")
	ct := resp.ContentType
	if !resp.HasContentType {
		ct = defaultContentType(sm.script.Filename)
	}
	if ct != "" {
		hdr.Set("Content-Type", ct)
	} else {
		hdr["Content-Type"] = nil // keep net/http from sniffing one
	}
	sm.started, sm.status = true, resp.Status
	sm.w.WriteHeader(resp.Status)
	if _, err := sm.w.Write(resp.Body); err != nil {
		return StreamGone
	}
	if err := http.NewResponseController(sm.w).Flush(); err != nil {
		return StreamGone
	}
	return StreamSent
}
