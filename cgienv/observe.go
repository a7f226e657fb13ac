package cgienv

import (
	"bufio"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
)

// RequestInfo describes a request the Handler has answered, for access logs
// and metrics. Handler.Observe receives it once per request.
type RequestInfo struct {
	// ID is the request id, also in every log record about the request
	// (attribute "request_id"; see RequestID).
	ID string
	// Start is when the Handler received the request; Duration how long
	// it took to answer, the script's run included.
	Start    time.Time
	Duration time.Duration
	// RemoteAddr is the client's address as REMOTE_ADDR gives it to
	// scripts: the peer's IP address, or the client a trusted proxy
	// names in X-Forwarded-For. No port.
	RemoteAddr string
	// Script is the file of the script that produced the response (the
	// last one, after internal redirects), and ScriptName its
	// SCRIPT_NAME. Both are empty when the path named no script (404,
	// 400) or the request was refused before it was resolved (414).
	Script     string
	ScriptName string
	// Status is the status sent. 499 means the client went away before
	// any response was written (nothing was sent).
	Status int
	// Bytes counts the response body bytes written to the connection:
	// none for HEAD; for a response sent on a taken-over connection (an
	// NPH script, an unusual reason phrase), what followed the header
	// block.
	Bytes int64
	// TimedOut reports that the script ran past its time limit: a 504,
	// or a streamed response cut short.
	TimedOut bool
}

// RequestID returns the id the Handler gave the request that ctx belongs
// to (the context a Runner receives, or one derived from it), or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

type requestIDKey struct{}

// requestIDs makes request ids: a random prefix fixed when the Handler
// starts, so that ids of different server runs differ, and a counter.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	const digits = "0123456789abcdefghijklmnopqrstuv"
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	for i := range b {
		b[i] = digits[b[i]&31]
	}
	return &requestIDs{prefix: string(b[:]) + "-"}
}

func (g *requestIDs) next() string {
	var buf [32]byte
	b := append(buf[:0], g.prefix...)
	return string(strconv.AppendUint(b, g.n.Add(1), 10))
}

// maxRequestIDLen bounds an X-Request-Id taken from a trusted proxy.
const maxRequestIDLen = 128

// requestID returns the id of r: the X-Request-Id a trusted proxy sent,
// when it is a sensible token, or a new one. An id from anyone else is
// ignored, as a client could otherwise make its requests look like
// others' in the logs.
func (st *handlerState) requestID(r *http.Request) string {
	if len(st.trusted) > 0 {
		if v := r.Header.Get("X-Request-Id"); v != "" && validRequestID(v) && st.peerTrusted(r) {
			return v
		}
	}
	return st.ids.next()
}

// validRequestID accepts visible ASCII without quotes and backslashes,
// so an id needs no escaping in any log format.
func validRequestID(v string) bool {
	if len(v) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (st *handlerState) peerTrusted(r *http.Request) bool {
	host, _ := splitPeer(r.RemoteAddr)
	a, err := netip.ParseAddr(host)
	return err == nil && st.isTrusted(a)
}

// splitPeer splits a request's RemoteAddr into the peer's address and
// port (without allocating, in the usual case). What net.SplitHostPort
// refuses is parsed as an IP address and port, so that an IPv6 zone
// holding a bracket ("[::%[]:0", found by FuzzBuildEnv) still gives the
// address; anything else (a Unix socket's peer) is kept whole.
func splitPeer(remote string) (host, port string) {
	host, port, err := net.SplitHostPort(remote)
	if err == nil {
		return host, port
	}
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().String(), strconv.Itoa(int(ap.Port()))
	}
	return remote, ""
}

// remoteAddr is REMOTE_ADDR for r, computed the way buildEnv does.
func (st *handlerState) remoteAddr(r *http.Request) string {
	host, _ := splitPeer(r.RemoteAddr)
	if fw, ok := st.forwardedFor(r, host); ok && fw.remoteAddr != "" {
		return fw.remoteAddr
	}
	return host
}

// idHandler adds the request id of the record's context to every record,
// so that all records about one request (script stderr lines included)
// can be found together and matched with the access log.
type idHandler struct{ h slog.Handler }

func (h idHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h idHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String(keyRequestID, id))
	}
	return h.h.Handle(ctx, rec)
}

func (h idHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return idHandler{h.h.WithAttrs(attrs)}
}

func (h idHandler) WithGroup(name string) slog.Handler { return idHandler{h.h.WithGroup(name)} }

// countingWriter counts the body bytes of a response for RequestInfo. It
// keeps http.ResponseController working: Flush and Hijack are its own
// (Hijack to count what is written on the taken-over connection), and
// everything else reaches the wrapped writer through Unwrap.
type countingWriter struct {
	http.ResponseWriter
	head  bool // HEAD: net/http drops body writes
	bytes int64
	conn  *countingConn // after Hijack
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	if !c.head {
		c.bytes += int64(n)
	}
	return n, err
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// FlushError is what http.ResponseController.Flush calls: the streamer
// needs the error to notice a client that left.
func (c *countingWriter) FlushError() error {
	return http.NewResponseController(c.ResponseWriter).Flush()
}

// Flush is http.Flusher, for code that asserts it.
func (c *countingWriter) Flush() { c.FlushError() }

func (c *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(c.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	c.conn = &countingConn{Conn: conn}
	// net/http hands over an empty writer, so a new one over the counting
	// connection loses nothing; the reader may hold buffered input and is
	// kept.
	return c.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(c.conn)), nil
}

// sent returns the body bytes sent.
func (c *countingWriter) sent() int64 {
	if c.conn != nil {
		return c.conn.body
	}
	return c.bytes
}

// countingConn counts what is written on a taken-over connection after the
// header block, which ends at the first empty line (CRLF or LF).
type countingConn struct {
	net.Conn
	inBody bool
	nl     int // 1: just after a LF, 2: after LF CR
	body   int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.count(p[:n])
	return n, err
}

func (c *countingConn) count(p []byte) {
	if c.inBody {
		c.body += int64(len(p))
		return
	}
	for i, b := range p {
		switch {
		case b == '\n' && c.nl > 0:
			c.inBody = true
			c.body += int64(len(p) - i - 1)
			return
		case b == '\n':
			c.nl = 1
		case b == '\r' && c.nl == 1:
			c.nl = 2
		default:
			c.nl = 0
		}
	}
}
