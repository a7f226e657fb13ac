package frontend

// The FastCGI front end (--fastcgi). nginx (fastcgi_pass) or Apache (mod_proxy_fcgi) talks FastCGI
// to warmcgi as it would to fcgiwrap; net/http/fcgi decodes the protocol
// and fastcgiFront turns its requests into the ones the HTTP listener
// hands to cgienv.Handler, so a script sees the same environment either
// way.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/fcgi"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/warmcgi/warmcgi/cgienv"
)

// FastCGIServer serves FastCGI connections and, unlike fcgi.Serve alone,
// can be shut down gracefully: stop accepting, let the requests in
// progress finish, then close the connections the front end keeps open.
type FastCGIServer struct {
	handler http.Handler
	logger  *slog.Logger

	// cutToken is the content of the one record that ends a connection
	// without its END_REQUEST (see fastcgiWriter.CutResponse).
	cutToken []byte

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	active   int           // requests in progress
	idle     chan struct{} // closed when active drops to 0 while draining
	draining bool
}

// NewFastCGIServer returns a server handing h the requests a front end
// sends, turned into the ones the HTTP listener would hand it (see
// fastcgiFront). passUser passes the front end's REMOTE_USER and
// AUTH_TYPE on (--fastcgi-remote-user).
func NewFastCGIServer(h http.Handler, passUser bool, logger *slog.Logger) *FastCGIServer {
	token := make([]byte, 32)
	rand.Read(token)
	return &FastCGIServer{handler: fastcgiFront{next: h, passUser: passUser, cutToken: token},
		cutToken: token, logger: logger, conns: map[net.Conn]struct{}{}}
}

// Serve accepts connections on ln until Shutdown; then it returns nil.
func (s *FastCGIServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	err := fcgi.Serve(&trackingListener{Listener: ln, s: s}, http.HandlerFunc(s.serveRequest))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return nil
	}
	return err
}

func (s *FastCGIServer) serveRequest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		// A request on a connection the front end kept open, after
		// SIGTERM: the front end may retry it elsewhere.
		w.Header().Set("Retry-After", "1")
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	s.active++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		if s.active == 0 && s.draining {
			close(s.idle)
		}
		s.mu.Unlock()
	}()
	s.handler.ServeHTTP(w, r)
}

// Shutdown stops accepting, waits for the requests in progress (until ctx
// ends) and closes every connection.
func (s *FastCGIServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.idle = make(chan struct{})
	if s.active == 0 {
		close(s.idle)
	}
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	var err error
	select {
	case <-s.idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// The last requests' handlers have returned, but net/http/fcgi may
	// still be writing their final records: give the connections a
	// moment to be closed by their own side (a front end that does not
	// keep FastCGI connections alive), then close what is left.
	for grace := time.Now().Add(2 * time.Second); err == nil && time.Now().Before(grace); {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Closed outside the lock: a trackedConn's Close takes it to leave
	// the set (holding it here deadlocked when a front end kept a
	// connection open at shutdown).
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return err
}

// trackingListener records the open connections for Shutdown.
type trackingListener struct {
	net.Listener
	s *FastCGIServer
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, s: l.s}
	tc.r = bufio.NewReaderSize(c, fcgiReadBuffer)
	l.s.mu.Lock()
	l.s.conns[tc] = struct{}{}
	l.s.mu.Unlock()
	return tc, nil
}

type trackedConn struct {
	net.Conn
	s    *FastCGIServer
	once sync.Once
	// r buffers the reads: net/http/fcgi reads each record's 8-byte header
	// and then its content straight from the connection, two system calls
	// a record, where a front end writes a request's records at once.
	r *bufio.Reader
	// held is the empty FCGI_STDOUT record that ends a response, sent with
	// the record written next (net/http/fcgi's FCGI_END_REQUEST, at once
	// after it): one write system call less per request. Writes come from
	// the requests' goroutines, one record at a time under net/http/fcgi's
	// lock; mu guards held against Close.
	mu   sync.Mutex
	held []byte
}

// fcgiReadBuffer holds a request's records as nginx writes them (its
// fastcgi_params come to about 1 KiB).
const fcgiReadBuffer = 4096

func (c *trackedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// errCut is the write error of the record that cut its connection.
var errCut = errors.New("fastcgi: response cut: connection closed without FCGI_END_REQUEST")

// fcgiStdout is the FastCGI record type of a response's output.
const recStdout = 6

// Write passes net/http/fcgi's records on (it writes each with one Write
// call), except a FCGI_STDOUT record whose content is the server's cut
// token: that one closes the connection instead, so the front end gets no
// FCGI_END_REQUEST and sees the response cut short (nginx: "upstream
// prematurely closed connection"; its client gets no last chunk).
func (c *trackedConn) Write(p []byte) (int, error) {
	if tok := c.s.cutToken; len(p) == 8+len(tok) && p[0] == 1 && p[1] == recStdout && bytes.Equal(p[8:], tok) {
		resetTCP(c.Conn)
		c.Close()
		return 0, errCut
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) == 8 && p[0] == 1 && p[1] == recStdout && p[4] == 0 && p[5] == 0 && p[6] == 0 && c.held == nil {
		c.held = append(make([]byte, 0, 32), p...) // the end of a response's output
		return len(p), nil
	}
	if c.held != nil {
		held := c.held
		c.held = nil
		n, err := c.Conn.Write(append(held, p...))
		return max(0, n-len(held)), err
	}
	return c.Conn.Write(p)
}

// resetTCP makes the close of a TCP connection a reset, once what was
// written has reached the peer (or after a second): nginx, when it does not
// keep FastCGI connections open (its default) takes a plain close for the
// end of the response, a reset for an upstream error, which cuts its
// client's response. A unix socket has no reset: nginx sees the close.
func resetTCP(conn net.Conn) {
	for {
		u, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		conn = u.NetConn()
	}
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	if raw, err := tc.SyscallConn(); err == nil {
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
			var unsent int32 // SIOCOUTQ: bytes not yet acknowledged
			raw.Control(func(fd uintptr) {
				syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&unsent)))
			})
			if unsent == 0 {
				break
			}
		}
	}
	tc.SetLinger(0)
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// fastcgiFront adapts the requests net/http/fcgi builds from a front end's
// parameters to what cgienv.Handler reads from a direct HTTP request.
//
// What net/http/fcgi already maps: REMOTE_ADDR and REMOTE_PORT into
// RemoteAddr (the client as the front end saw it), HTTPS=on into a
// non-nil TLS, SERVER_PROTOCOL into Proto, HTTP_* into headers and
// HTTP_HOST into Host, CONTENT_LENGTH and the body, REQUEST_METHOD, and
// REQUEST_URI (or, without it, SCRIPT_NAME, PATH_INFO and QUERY_STRING)
// into URL. The script is then chosen from that URL path under --prefix,
// exactly as for HTTP: the front end's SCRIPT_FILENAME, SCRIPT_NAME,
// PATH_INFO and DOCUMENT_ROOT are ignored, so it can never make warmcgi
// run a file of its choosing.
type fastcgiFront struct {
	next http.Handler
	// passUser passes the front end's REMOTE_USER and AUTH_TYPE on
	// (--fastcgi-remote-user). Off by default: nginx's standard
	// fastcgi_params send $remote_user, the user name from any Basic
	// Authorization header, checked or not, so any client could claim to
	// be any user where nginx does not authenticate itself.
	passUser bool
	cutToken []byte // the server's (FastCGIServer.cutToken)
}

func (f fastcgiFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	params := fcgi.ProcessEnv(r)
	// net/http/fcgi parses REQUEST_URI into URL but leaves RequestURI
	// empty; it is REQUEST_URI again and what --max-url-length measures.
	// (Bytes outside ASCII come back %-escaped.)
	r.RequestURI = r.URL.RequestURI()
	// nginx sends the Content-Type header twice: as CONTENT_TYPE and, with
	// the other headers, as HTTP_CONTENT_TYPE; net/http/fcgi adds both,
	// CONTENT_TYPE first. The script must see it once, as on the HTTP
	// listener (and as Apache's mod_proxy_fcgi sends it).
	if ct := r.Header["Content-Type"]; len(ct) > 1 {
		r.Header["Content-Type"] = ct[:1]
	}
	// Apache's mod_proxy_fcgi passes a chunked request body on without
	// CONTENT_LENGTH, which leaves ContentLength 0 as for no body at all.
	// A body is whatever arrives on FCGI_STDIN: when there is one, its
	// length is unknown and the handler reads it to the end, as a chunked
	// body on the HTTP listener.
	if r.ContentLength == 0 && r.Body != nil {
		var first [1]byte
		if n, _ := io.ReadFull(r.Body, first[:]); n == 1 {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(first[:]), r.Body), r.Body}
			r.ContentLength = -1
		}
	}
	gw := &cgienv.Gateway{
		ServerName: params["SERVER_NAME"],
		ServerAddr: params["SERVER_ADDR"],
		ServerPort: params["SERVER_PORT"],
	}
	// The front end's other variables are passed on, as fcgiwrap passes
	// them (SSL_*, fastcgi_param settings, REMOTE_USER with passUser);
	// empty ones are dropped, since nginx sends e.g. REMOTE_USER="" when
	// there was no authentication, where Apache and the HTTP listener
	// leave the variable out. cgienv drops the names it computes itself.
	for k, v := range params {
		if v == "" || !f.passUser && (k == "REMOTE_USER" || k == "AUTH_TYPE") {
			continue
		}
		gw.Env = append(gw.Env, k+"="+v)
	}
	slices.Sort(gw.Env)
	r = r.WithContext(cgienv.WithGateway(r.Context(), gw))
	apache := strings.HasPrefix(params["SERVER_SOFTWARE"], "Apache")
	f.next.ServeHTTP(&fastcgiWriter{ResponseWriter: w, noAccel: apache, cutToken: f.cutToken}, r)
}

// fastcgiWriter tells nginx not to buffer a response whose length is not
// known when its headers go out: cgienv gives every complete response a
// Content-Length, so such a response is one the script is still writing
// and flushing (a progress page), and nginx would otherwise hold it back
// until its buffers fill or the script ends. A script's own
// X-Accel-Buffering wins. Apache would pass the header on to the client
// (its flushpackets setting decides instead), so it is left out there.
type fastcgiWriter struct {
	http.ResponseWriter
	wroteHeader bool
	noAccel     bool   // the front end is Apache
	cutToken    []byte // see CutResponse
}

func (w *fastcgiWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		h := w.Header()
		if _, known := h["Content-Length"]; !known && !w.noAccel && h.Get("X-Accel-Buffering") == "" {
			h.Set("X-Accel-Buffering", "no")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *fastcgiWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// FlushError flushes and reports whether the front end is still there:
// net/http/fcgi's Flush drops the error, but its buffered writer keeps it
// and returns it from the next Write, empty or not.
func (w *fastcgiWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	_, err := w.ResponseWriter.Write(nil)
	return err
}

func (w *fastcgiWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// CutResponse ends a response that cannot be finished (its script was
// stopped after the headers went out) the way Apache ends one: what was
// written is sent, then the connection is closed without FCGI_END_REQUEST,
// so the front end and its client see it cut, not complete. net/http/fcgi
// gives a handler no hold on its connection: the cut token goes the way
// of the output, in a record of its own after a flush, and the tracked
// connection closes itself when it sees it (trackedConn.Write). It
// reports an error when the connection could not be cut (the front end
// had gone).
func (w *fastcgiWriter) CutResponse() error {
	f, ok := w.ResponseWriter.(http.Flusher)
	if !ok || len(w.cutToken) == 0 {
		return errors.New("fastcgi: response cannot be cut")
	}
	f.Flush()
	w.ResponseWriter.Write(w.cutToken)
	f.Flush()
	if _, err := w.ResponseWriter.Write(nil); !errors.Is(err, errCut) {
		return fmt.Errorf("fastcgi: response not cut: %v", err)
	}
	return nil
}

// WarnOpenFastCGI warns when FastCGI is served on a TCP address other
// hosts may reach: the protocol has no authentication, and whoever
// connects says what the client's address, scheme and user are.
func WarnOpenFastCGI(addr string, logger *slog.Logger) {
	if SocketPath(addr) != "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsLoopback() {
		return
	}
	logger.Warn("FastCGI is served on an address other hosts may reach: any peer can claim any client address, HTTPS and REMOTE_USER; keep it behind a firewall or use 127.0.0.1 or unix:PATH", "fastcgi", addr)
}
