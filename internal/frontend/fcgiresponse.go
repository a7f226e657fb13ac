package frontend

// A FastCGI request's response: the CGI header block net/http/fcgi writes
// (Status line, Date, sniffed Content-Type) and the output, in FCGI_STDOUT
// records of up to 65535 bytes gathered in one pooled buffer, sent with the
// records that end the request in one write when the whole response fits.

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// flushAt is how much output is gathered before it is written: a response
// up to this size goes out in one write with its FCGI_END_REQUEST.
const flushAt = 64 << 10

// outPool holds output buffers; one that grew past maxPooled is dropped.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooled = 256 << 10

// errResponseAborted is a write to a request the front end aborted.
var errResponseAborted = errors.New("fastcgi: request aborted by the front end")

// errResponseDone is a write after the response ended.
var errResponseDone = errors.New("fastcgi: write after the response ended")

type fcgiResponse struct {
	c      *fcgiConn
	req    *fcgiRequest
	header http.Header
	code   int

	wroteHeader    bool
	wroteCGIHeader bool
	cut            bool // the connection was cut (cutResponse)

	buf      *[]byte // records not yet written; the last one may be open
	recStart int     // where the open FCGI_STDOUT record starts, or -1
	err      error   // the first write error, returned by every write after it
}

func newFCGIResponse(c *fcgiConn, req *fcgiRequest) *fcgiResponse {
	buf := outPool.Get().(*[]byte)
	*buf = (*buf)[:0]
	return &fcgiResponse{c: c, req: req, header: make(http.Header, 8), buf: buf, recStart: -1}
}

func (w *fcgiResponse) Header() http.Header { return w.header }

// WriteHeader is net/http/fcgi's: a 304 loses its body headers, a
// response without a Date gets one.
func (w *fcgiResponse) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.code = code
	if code == http.StatusNotModified {
		w.header.Del("Content-Type")
		w.header.Del("Content-Length")
		w.header.Del("Transfer-Encoding")
	}
	if w.header.Get("Date") == "" {
		w.header.Set("Date", httpDate())
	}
}

func (w *fcgiResponse) Write(p []byte) (int, error) {
	if w.buf == nil {
		return 0, errResponseDone
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.wroteCGIHeader {
		w.writeCGIHeader(p)
	}
	if w.err != nil {
		return 0, w.err
	}
	w.appendStdout(p)
	return len(p), w.err
}

// writeCGIHeader writes the header block before the first output, its
// Content-Type sniffed from that output when the handler set none.
func (w *fcgiResponse) writeCGIHeader(p []byte) {
	w.wroteCGIHeader = true
	b := append(make([]byte, 0, 48), "Status: "...)
	b = strconv.AppendInt(b, int64(w.code), 10)
	b = append(append(append(b, ' '), http.StatusText(w.code)...), "\r\n"...)
	w.appendStdout(b)
	if _, hasType := w.header["Content-Type"]; w.code != http.StatusNotModified && !hasType {
		w.header.Set("Content-Type", http.DetectContentType(p))
	}
	w.header.Write((*stdoutWriter)(w))
	w.appendStdout([]byte("\r\n"))
}

// stdoutWriter is the response as an io.Writer of raw output, for
// http.Header.Write.
type stdoutWriter fcgiResponse

func (s *stdoutWriter) Write(p []byte) (int, error) {
	(*fcgiResponse)(s).appendStdout(p)
	return len(p), nil
}

func (s *stdoutWriter) WriteString(p string) (int, error) {
	(*fcgiResponse)(s).appendStdoutString(p)
	return len(p), nil
}

// appendStdout adds p to the output, in records of up to 65535 bytes,
// writing what is gathered whenever it reaches flushAt.
func (w *fcgiResponse) appendStdout(p []byte) {
	for len(p) > 0 && w.err == nil {
		n := w.room(len(p))
		*w.buf = append(*w.buf, p[:n]...)
		p = p[n:]
		w.afterAppend()
	}
}

func (w *fcgiResponse) appendStdoutString(p string) {
	for len(p) > 0 && w.err == nil {
		n := w.room(len(p))
		*w.buf = append(*w.buf, p[:n]...)
		p = p[n:]
		w.afterAppend()
	}
}

// room opens a record if none is open and returns how much of want fits
// in it.
func (w *fcgiResponse) room(want int) int {
	if w.recStart < 0 {
		w.recStart = len(*w.buf)
		*w.buf = appendRecordHeader(*w.buf, recStdout, w.req.id, 0)
	}
	return min(want, maxRecordContent-(len(*w.buf)-w.recStart-8))
}

func (w *fcgiResponse) afterAppend() {
	if len(*w.buf)-w.recStart-8 == maxRecordContent {
		w.closeRecord()
	}
	if len(*w.buf) >= flushAt {
		w.flush()
	}
}

// closeRecord sets the open record's length; an empty one is dropped (an
// empty FCGI_STDOUT would end the output).
func (w *fcgiResponse) closeRecord() {
	if w.recStart < 0 {
		return
	}
	b := *w.buf
	if n := len(b) - w.recStart - 8; n == 0 {
		*w.buf = b[:w.recStart]
	} else {
		b[w.recStart+4], b[w.recStart+5] = byte(n>>8), byte(n)
	}
	w.recStart = -1
}

// flush writes what is gathered.
func (w *fcgiResponse) flush() {
	if w.buf == nil {
		return
	}
	w.closeRecord()
	if len(*w.buf) == 0 || w.err != nil {
		*w.buf = (*w.buf)[:0]
		return
	}
	c := w.c
	c.wmu.Lock()
	if w.req.aborted {
		w.err = errResponseAborted
	} else if _, err := c.conn.Write(*w.buf); err != nil {
		w.err = err
	}
	c.wmu.Unlock()
	*w.buf = (*w.buf)[:0]
}

// Flush sends the output so far (net/http/fcgi's: the header block goes
// out with the first Write, not here).
func (w *fcgiResponse) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.flush()
}

// stderr adds an FCGI_STDERR record (the front end logs it).
func (w *fcgiResponse) stderr(msg string) {
	w.closeRecord()
	msg = msg[:min(len(msg), maxRecordContent)]
	*w.buf = append(appendRecordHeader(*w.buf, recStderr, w.req.id, len(msg)), msg...)
}

// finish ends the response: the header block if nothing was written, the
// empty FCGI_STDOUT and FCGI_END_REQUEST, all in one write with what is
// left of the output. The buffer goes back to the pool.
func (w *fcgiResponse) finish() {
	if !w.cut {
		w.Write(nil)
		w.closeRecord()
		*w.buf = appendRecordHeader(*w.buf, recStdout, w.req.id, 0)
		*w.buf = appendEndRequest(*w.buf, w.req.id, statusRequestComplete)
		w.flush()
	}
	if cap(*w.buf) <= maxPooled {
		outPool.Put(w.buf)
	}
	w.buf = nil
}

// cutResponse ends a response that cannot be finished the way Apache ends
// one: what was written is sent, then the connection is closed (reset,
// over TCP) without FCGI_END_REQUEST, so the front end and its client see
// it cut, not complete. It reports an error when the output could not be
// sent (the front end had gone).
func (w *fcgiResponse) cutResponse() error {
	w.flush()
	w.cut = true
	resetTCP(w.c.conn)
	w.c.close()
	if w.err != nil {
		return fmt.Errorf("fastcgi: response not cut: %v", w.err)
	}
	return nil
}

type dateText struct {
	sec  int64
	text string
}

var lastDate atomic.Pointer[dateText]

// httpDate is the current time as a Date header, formatted once a second.
func httpDate() string {
	now := time.Now()
	if d := lastDate.Load(); d != nil && d.sec == now.Unix() {
		return d.text
	}
	d := &dateText{sec: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.text
}
