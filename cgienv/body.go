package cgienv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
)

// streamAt is the body size above which, when Handler.StreamBodies is
// set, a body with a Content-Length is handed to the script as it arrives
// instead of being read whole first.
const streamAt = 64 << 10

// spoolAt is the body size above which a request body is kept in an
// unlinked temporary file instead of memory (COMPAT 19): a few large
// uploads must not cost the server gigabytes of memory.
const spoolAt = 1 << 20

// requestBody is a request body as a Runner gets it: in memory, in a
// spooled file, or still arriving; has reports whether the request has a
// body at all, and n is its length. chunked: its length was not announced
// (a chunked body, or HTTP/2 without content-length), so the script gets
// no CONTENT_LENGTH and HTTP_TRANSFER_ENCODING=chunked, as under Apache
// (COMPAT 19); limit, for one streamed, says whether it passed MaxBody.
type requestBody struct {
	data    []byte
	file    *os.File
	stream  io.Reader
	n       int64
	has     bool
	chunked bool
	limit   *limitedBody
}

// overLimit reports whether a streamed body went past MaxBody.
func (in *requestBody) overLimit() bool { return in.limit != nil && in.limit.over.Load() }

// requestBody reads or spools the request's body, or, for a large one
// with a known length when StreamBodies is set, sets it up to be read as
// it arrives. A status other than 0 is readBody's failure.
func (h *Handler) requestBody(st *handlerState, w http.ResponseWriter, r *http.Request, f *flight) (in requestBody, status int) {
	if h.StreamBodies && r.ContentLength > streamAt && (st.maxBody < 0 || r.ContentLength <= st.maxBody) {
		// A large body with a known length goes to the script as it
		// arrives (net/http stops at Content-Length and reports a short
		// body as an error to the reader).
		f.body = &flightReader{f: f, body: r.Body}
		in.stream, in.n, in.has = f.body, r.ContentLength, true
		// A script may answer (and flush) before it has read all of its
		// body; without this, net/http would first read the rest of the
		// body itself, and wait for the client to send it. Front ends
		// that cannot (FastCGI) return an error: nothing to change there.
		_ = http.NewResponseController(w).EnableFullDuplex()
		return in, 0
	}
	if h.StreamBodies && r.ContentLength < 0 {
		return chunkedBody(st, w, r, f)
	}
	in.data, in.file, in.n, in.has, status = readBody(r, st.maxBody)
	in.chunked = in.has && r.ContentLength < 0
	return in, status
}

// chunkedBody sets up a body of unknown length. One that ends within
// streamAt is read whole, as a small one with a Content-Length; a longer
// one goes to the script as it arrives, as Apache hands it on, the part
// already read first. MaxBody is enforced as the body passes: over it
// before the script starts, the answer is 413 at once; later, the
// script's read fails and the handler answers 413 if the response has not
// begun (Apache reads the whole body before any output and answers 413).
func chunkedBody(st *handlerState, w http.ResponseWriter, r *http.Request, f *flight) (in requestBody, status int) {
	in.has, in.chunked = true, true
	lb := &limitedBody{r: r.Body, limit: st.maxBody}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(lb, streamAt+1)); err != nil {
		return requestBody{}, bodyFailed(r, err)
	}
	if buf.Len() <= streamAt {
		in.data, in.n = buf.Bytes(), int64(buf.Len())
		return in, 0
	}
	f.body = &flightReader{f: f, body: io.MultiReader(bytes.NewReader(buf.Bytes()), lb)}
	in.stream, in.n, in.limit = f.body, -1, lb
	_ = http.NewResponseController(w).EnableFullDuplex() // as for a long body above
	return in, 0
}

// limitedBody reads a body of unknown length up to limit bytes (negative:
// no limit); past it, reads fail with *http.MaxBytesError and over is set.
// Only what is within the limit is handed on.
type limitedBody struct {
	r     io.Reader
	limit int64
	n     int64
	over  atomic.Bool // read by the handler once the script has ended
}

func (lb *limitedBody) Read(p []byte) (int, error) {
	if lb.over.Load() {
		return 0, &http.MaxBytesError{Limit: lb.limit}
	}
	if lb.limit >= 0 && int64(len(p)) > lb.limit-lb.n+1 {
		p = p[:lb.limit-lb.n+1] // one byte more tells the limit was passed
	}
	n, err := lb.r.Read(p)
	lb.n += int64(n)
	if lb.limit >= 0 && lb.n > lb.limit {
		lb.over.Store(true)
		n -= int(lb.n - lb.limit)
		lb.n = lb.limit
		return n, &http.MaxBytesError{Limit: lb.limit}
	}
	return n, err
}

// bodyFailed is the status for a failed read of the request body:
// statusClientGone when the client left, 413 over the limit, 400 else.
func bodyFailed(r *http.Request, err error) int {
	if r.Context().Err() != nil {
		return statusClientGone
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// readBody reads the whole request body, de-chunked by net/http, up to
// limit bytes (negative: no limit): in memory, or past spoolAt in an
// unlinked temporary file positioned at its start (the caller closes it).
// n is the body's length; has reports whether the request has a body at
// all (a Content-Length header, even 0, or a chunked or unknown-length
// body). A status other than 0 means failure: 413 over the limit, 400 on a
// read error, 500 when no temporary file can be made, statusClientGone
// when the client left.
func readBody(r *http.Request, limit int64) (body []byte, file *os.File, n int64, has bool, status int) {
	_, hasCL := r.Header["Content-Length"]
	has = r.ContentLength != 0 || hasCL || len(r.TransferEncoding) > 0
	if !has || r.Body == nil {
		return nil, nil, 0, has, 0
	}
	if limit >= 0 && r.ContentLength > limit {
		return nil, nil, 0, true, http.StatusRequestEntityTooLarge
	}
	var rd io.Reader = r.Body
	hint := int64(512)
	switch {
	case r.ContentLength > 0:
		rd = io.LimitReader(r.Body, r.ContentLength)
		hint = min(r.ContentLength, spoolAt) // a client may lie; grow as data arrives
	case limit >= 0:
		rd = io.LimitReader(r.Body, limit+1)
	}
	var buf bytes.Buffer
	buf.Grow(int(hint))
	_, err := buf.ReadFrom(io.LimitReader(rd, spoolAt+1))
	n = int64(buf.Len())
	if err == nil && n > spoolAt {
		file, n, err = spool(io.MultiReader(bytes.NewReader(buf.Bytes()), rd))
		if errors.Is(err, errTempFile) {
			return nil, nil, 0, true, http.StatusInternalServerError
		}
	}
	fail := func(status int) ([]byte, *os.File, int64, bool, int) {
		if file != nil {
			file.Close()
		}
		return nil, nil, 0, true, status
	}
	if err != nil {
		return fail(bodyFailed(r, err))
	}
	if r.ContentLength > 0 && n != r.ContentLength {
		return fail(http.StatusBadRequest)
	}
	if limit >= 0 && n > limit {
		return fail(http.StatusRequestEntityTooLarge)
	}
	if file != nil {
		return nil, file, n, true, 0
	}
	return buf.Bytes(), nil, n, true, 0
}

// SpoolBody copies a request body to an unlinked temporary file and
// returns the file positioned at its start; the caller closes it. On an
// error no file is left open, and an error of r is wrapped with "reading
// the request body".
func SpoolBody(r io.Reader) (*os.File, error) {
	f, _, err := spool(r)
	return f, err
}

// errTempFile wraps the failure to make the file a body is spooled to:
// the server's fault (500), not the client's.
var errTempFile = errors.New("cgienv: cannot make a temporary file for the request body")

// spool is SpoolBody, also returning the body's length.
func spool(r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "warmcgi-body-*")
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errTempFile, err)
	}
	os.Remove(f.Name()) // unlinked: gone with the last descriptor
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("reading the request body: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, n, nil
}
