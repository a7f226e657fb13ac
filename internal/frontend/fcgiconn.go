package frontend

// One FastCGI connection: its goroutine reads the records, runs each
// request's handler itself (no goroutine per request), and the handler's
// body reads pull the request's FCGI_STDIN records from the connection as
// it asks for them.

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"sync"
)

// maxParams bounds a request's FCGI_PARAMS stream: more is answered 431
// (Request Header Fields Too Large) without running the handler. nginx's
// own header limits (large_client_header_buffers) keep it far below.
const maxParams = 1 << 20

// maxDrain is how much of a body the handler left unread is read and
// dropped before a connection that is not kept open is closed (closing
// with unread input would reset it and could lose the response).
const maxDrain = 100 << 20

// errRequestAborted is what a body read returns after FCGI_ABORT_REQUEST.
var errRequestAborted = errors.New("fastcgi: request aborted by the front end")

// errConnClosed is what a body read returns when the connection failed.
var errConnClosed = errors.New("fastcgi: connection to the front end closed")

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, fcgiReadBuffer) }}

// fcgiReadBuffer holds a request's records as nginx writes them (its
// fastcgi_params come to about 1 KiB).
const fcgiReadBuffer = 4096

// fcgiConn is one connection from the front end.
type fcgiConn struct {
	s    *FastCGIServer
	conn net.Conn
	r    *bufio.Reader
	once sync.Once

	// wmu serialises writes: a response's records and the records a body
	// read answers (FCGI_GET_VALUES_RESULT, a refused FCGI_BEGIN_REQUEST).
	wmu sync.Mutex

	// req is the request begun and not yet running (between its
	// FCGI_BEGIN_REQUEST and its first FCGI_STDIN record).
	req    *fcgiRequest
	cur    *fcgiRequest      // the request running
	params []byte            // the FCGI_PARAMS content since the last empty record
	env    map[string]string // the parameters, reused request after request
	broken bool              // reading failed: nothing more is read
}

// fcgiRequest is a request being received.
type fcgiRequest struct {
	id       uint16
	keepConn bool
	env      map[string]string
	tooLarge bool // more than maxParams of FCGI_PARAMS
	aborted  bool // FCGI_ABORT_REQUEST came while it ran (guarded by wmu)
}

func (c *fcgiConn) close() {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	c.conn.Close()
}

// serve reads and handles records until the connection ends.
func (c *fcgiConn) serve() {
	c.r = readerPool.Get().(*bufio.Reader)
	c.r.Reset(c.conn)
	defer func() {
		c.close()
		c.r.Reset(nil)
		readerPool.Put(c.r)
	}()
	for {
		h, err := c.readHeader()
		if err != nil || !c.handle(h) {
			return
		}
	}
}

func (c *fcgiConn) readHeader() (recHeader, error) {
	b, err := c.r.Peek(8)
	if err != nil {
		c.broken = true
		return recHeader{}, err
	}
	h, err := parseHeader(b)
	c.r.Discard(8)
	if err != nil {
		c.broken = true
	}
	return h, err
}

// skip drops n bytes of input; it reports whether they could be read.
func (c *fcgiConn) skip(n int) bool {
	if _, err := c.r.Discard(n); err != nil {
		c.broken = true
		return false
	}
	return true
}

// writeRecords writes b, records the response does not own.
func (c *fcgiConn) writeRecords(b []byte) {
	c.wmu.Lock()
	c.conn.Write(b)
	c.wmu.Unlock()
}

// handle acts on a record read outside a running request, as
// net/http/fcgi does; it reports whether the connection goes on.
func (c *fcgiConn) handle(h recHeader) bool {
	req := c.req
	if (req == nil || req.id != h.id) && h.typ != recBeginRequest && h.typ != recGetValues {
		return c.skip(h.length + h.padding) // records of no request in progress are ignored
	}
	switch h.typ {
	case recBeginRequest:
		return c.begin(h)
	case recParams:
		return c.readParams(h)
	case recStdin:
		c.req = nil
		return c.run(req, h)
	case recGetValues:
		if !c.skip(h.length + h.padding) {
			return false
		}
		c.writeRecords(getValuesResult)
		return true
	case recAbortRequest:
		c.req = nil
		if !c.skip(h.length + h.padding) {
			return false
		}
		c.writeRecords(appendEndRequest(nil, h.id, statusRequestComplete))
		return req.keepConn
	case recData:
		return c.skip(h.length + h.padding)
	default:
		return c.unknownType(h)
	}
}

// inbound reports whether a responder reads records of type t.
func inbound(t byte) bool {
	switch t {
	case recBeginRequest, recAbortRequest, recParams, recStdin, recData, recGetValues:
		return true
	}
	return false
}

// unknownType answers a record of a type a responder does not know with
// FCGI_UNKNOWN_TYPE.
func (c *fcgiConn) unknownType(h recHeader) bool {
	if !c.skip(h.length + h.padding) {
		return false
	}
	b := appendRecordHeader(nil, recUnknownType, 0, 8)
	c.writeRecords(append(b, h.typ, 0, 0, 0, 0, 0, 0, 0))
	return true
}

// begin starts a request, or refuses it: a second one while one is in
// progress (FCGI_CANT_MPX_CONN), a role other than the responder's
// (FCGI_UNKNOWN_ROLE). A malformed record, or one beginning the request
// already in progress again, ends the connection.
func (c *fcgiConn) begin(h recHeader) bool {
	if h.length != 8 {
		return false
	}
	b, err := c.r.Peek(8)
	if err != nil {
		c.broken = true
		return false
	}
	role, flags := int(b[0])<<8|int(b[1]), b[2]
	if !c.skip(8 + h.padding) {
		return false
	}
	inProgress := c.req
	if inProgress == nil {
		inProgress = c.cur
	}
	switch {
	case inProgress != nil && inProgress.id == h.id:
		return false
	case inProgress != nil:
		c.writeRecords(appendEndRequest(nil, h.id, statusCantMpxConn))
	case role != roleResponder:
		c.writeRecords(appendEndRequest(nil, h.id, statusUnknownRole))
	default:
		if c.env == nil {
			c.env = make(map[string]string, 32)
		}
		clear(c.env) // the last request's, done with
		c.req = &fcgiRequest{id: h.id, keepConn: flags&flagKeepConn != 0, env: c.env}
		c.params = c.params[:0]
	}
	return true
}

// readParams collects the FCGI_PARAMS stream; an empty record ends a part
// of it, whose pairs are parsed then (as net/http/fcgi does).
func (c *fcgiConn) readParams(h recHeader) bool {
	req := c.req
	if h.length == 0 {
		parsePairs(c.params, req.env)
		c.params = c.params[:0]
		return c.skip(h.padding)
	}
	if req.tooLarge || len(c.params)+h.length > maxParams {
		req.tooLarge = true
		return c.skip(h.length + h.padding)
	}
	n := len(c.params)
	c.params = append(c.params, make([]byte, h.length)...)
	if _, err := io.ReadFull(c.r, c.params[n:]); err != nil {
		c.broken = true
		return false
	}
	return c.skip(h.padding)
}

// run serves a request whose first FCGI_STDIN record h has come, then
// ends it; it reports whether the connection goes on.
func (c *fcgiConn) run(req *fcgiRequest, h recHeader) bool {
	body := &fcgiBody{c: c, req: req, left: h.length, pad: h.padding, done: h.length == 0}
	if body.done {
		if body.pad = 0; !c.skip(h.padding) {
			return false
		}
	}
	w := newFCGIResponse(c, req)
	c.cur = req
	defer func() { c.cur = nil }()
	switch hr, err := cgi.RequestFromMap(req.env); {
	case req.tooLarge:
		http.Error(w, "request header fields too large", http.StatusRequestHeaderFieldsTooLarge)
	case err != nil:
		// net/http/fcgi's answer to parameters that make no request.
		w.WriteHeader(http.StatusInternalServerError)
		w.stderr(err.Error())
	default:
		hr.Body = body
		c.s.serveRequest(w, hr, req.env)
	}
	body.Close()
	w.finish()
	if c.broken || w.cut || !req.keepConn {
		if !c.broken && !w.cut {
			body.drain()
		}
		return false
	}
	// The rest of the body, if the handler left some, is skipped as
	// records of no request in progress.
	return true
}

// fcgiBody is a request's body: its FCGI_STDIN records, read from the
// connection as the handler reads.
type fcgiBody struct {
	c   *fcgiConn
	req *fcgiRequest
	// mu is held by a read: a script still reading after its handler
	// returned (it was abandoned) cannot read past Close.
	mu     sync.Mutex
	left   int // content bytes of the current record not yet read
	pad    int // its padding
	done   bool
	closed bool
	err    error
}

func (b *fcgiBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		switch {
		case b.err != nil:
			return 0, b.err
		case b.closed:
			return 0, errors.New("fastcgi: read of a closed request body")
		case b.left > 0:
			if len(p) == 0 {
				return 0, nil
			}
			n, err := b.c.r.Read(p[:min(len(p), b.left)])
			b.left -= n
			if err != nil {
				b.c.broken = true
				b.err = errConnClosed
			} else if b.left == 0 {
				if !b.c.skip(b.pad) {
					b.err = errConnClosed
				}
				b.pad = 0
			}
			return n, nil
		case b.done:
			return 0, io.EOF
		}
		b.next()
	}
}

// next reads records up to the request's next FCGI_STDIN content, the end
// of its body, or an error, answering the records that come meanwhile.
func (b *fcgiBody) next() {
	c := b.c
	h, err := c.readHeader()
	if err != nil {
		b.err = errConnClosed
		return
	}
	ok := true
	switch {
	case h.id == b.req.id && h.typ == recStdin:
		b.left, b.pad, b.done = h.length, h.padding, h.length == 0
		if b.done {
			ok, b.pad = c.skip(h.padding), 0
		}
	case h.id == b.req.id && h.typ == recAbortRequest:
		ok = c.skip(h.length + h.padding)
		c.wmu.Lock()
		b.req.aborted = true
		c.conn.Write(appendEndRequest(nil, h.id, statusRequestComplete))
		c.wmu.Unlock()
		b.err = errRequestAborted
	case h.typ == recBeginRequest:
		ok = c.begin(h) // refused: one request at a time
	case h.typ == recGetValues:
		if ok = c.skip(h.length + h.padding); ok {
			c.writeRecords(getValuesResult)
		}
	case h.id == b.req.id && !inbound(h.typ):
		ok = c.unknownType(h)
	default:
		ok = c.skip(h.length + h.padding)
	}
	if !ok || c.broken {
		c.broken = true
		if b.err == nil {
			b.err = errConnClosed
		}
	}
}

// Close ends the body for the handler; what it left unread stays on the
// connection (see drain).
func (b *fcgiBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed && b.left+b.pad > 0 && b.err == nil && !b.c.skip(b.left+b.pad) {
		b.err = errConnClosed
	}
	b.left, b.pad, b.closed = 0, 0, true
	return nil
}

// drain reads and drops the rest of the body, up to maxDrain.
func (b *fcgiBody) drain() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for n := 0; n < maxDrain && !b.done && b.err == nil; {
		b.next()
		if b.left+b.pad > 0 && b.err == nil {
			if !b.c.skip(b.left + b.pad) {
				b.err = errConnClosed
			}
			n += b.left
			b.left, b.pad = 0, 0
		}
	}
}
