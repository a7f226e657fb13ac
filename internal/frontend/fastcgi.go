package frontend

// The FastCGI front end (--fastcgi). nginx (fastcgi_pass) or Apache
// (mod_proxy_fcgi) talks FastCGI to warmcgi as it would to fcgiwrap; the
// responder in fcgiconn.go decodes the protocol (as net/http/fcgi did,
// without its 64 KiB buffers and goroutine per request) and fastcgiFront
// turns its requests into the ones the HTTP listener hands to
// cgienv.Handler, so a script sees the same environment either way.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/warmcgi/warmcgi/cgienv"
)

// FastCGIServer serves FastCGI connections and can be shut down
// gracefully: stop accepting, let the requests in progress finish, then
// close the connections the front end keeps open.
type FastCGIServer struct {
	front  fastcgiFront
	logger *slog.Logger

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*fcgiConn]struct{}
	active   int           // requests in progress
	idle     chan struct{} // closed when active drops to 0 while draining
	draining bool
}

// NewFastCGIServer returns a server handing h the requests a front end
// sends, turned into the ones the HTTP listener would hand it (see
// fastcgiFront). passUser passes the front end's REMOTE_USER and
// AUTH_TYPE on (--fastcgi-remote-user).
func NewFastCGIServer(h http.Handler, passUser bool, logger *slog.Logger) *FastCGIServer {
	return &FastCGIServer{front: fastcgiFront{next: h, passUser: passUser},
		logger: logger, conns: map[*fcgiConn]struct{}{}}
}

// Serve accepts connections on ln until Shutdown; then it returns nil.
// Another error of ln's Accept ends it with that error.
func (s *FastCGIServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.draining {
				return nil
			}
			return err
		}
		c := &fcgiConn{s: s, conn: nc}
		s.mu.Lock()
		if s.draining {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

// serveRequest hands a request to the front, or answers 503 once the
// server is draining. env holds the front end's parameters.
func (s *FastCGIServer) serveRequest(w http.ResponseWriter, r *http.Request, env map[string]string) {
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
	s.front.serve(w, r, env)
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
	// The last requests' handlers have returned, but their connections
	// may still be writing their final records: give the connections a
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
	// Closed outside the lock: a connection's close takes it to leave
	// the set (holding it here deadlocked when a front end kept a
	// connection open at shutdown).
	s.mu.Lock()
	conns := make([]*fcgiConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return err
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

// fastcgiFront adapts the requests built from a front end's parameters
// (by net/http/cgi's RequestFromMap, as net/http/fcgi builds them) to what
// cgienv.Handler reads from a direct HTTP request.
//
// What RequestFromMap already maps: REMOTE_ADDR and REMOTE_PORT into
// RemoteAddr (the client as the front end saw it), HTTPS=on into a
// non-nil TLS, SERVER_PROTOCOL into Proto, HTTP_* into headers and
// HTTP_HOST into Host, CONTENT_LENGTH, REQUEST_METHOD, and REQUEST_URI
// (or, without it, SCRIPT_NAME, PATH_INFO and QUERY_STRING) into URL. The
// script is then chosen from that URL path under --prefix, exactly as for
// HTTP: the front end's SCRIPT_FILENAME, SCRIPT_NAME, PATH_INFO and
// DOCUMENT_ROOT are ignored, so it can never make warmcgi run a file of
// its choosing.
type fastcgiFront struct {
	next http.Handler
	// passUser passes the front end's REMOTE_USER and AUTH_TYPE on
	// (--fastcgi-remote-user). Off by default: nginx's standard
	// fastcgi_params send $remote_user, the user name from any Basic
	// Authorization header, checked or not, so any client could claim to
	// be any user where nginx does not authenticate itself.
	passUser bool
}

// mappedParam reports whether RequestFromMap maps the parameter k into
// the request (the ones net/http/fcgi's ProcessEnv leaves out).
func mappedParam(k string) bool {
	switch k {
	case "CONTENT_LENGTH", "CONTENT_TYPE", "HTTPS", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR",
		"REMOTE_HOST", "REMOTE_PORT", "REQUEST_METHOD", "REQUEST_URI", "SCRIPT_NAME", "SERVER_PROTOCOL":
		return true
	}
	return strings.HasPrefix(k, "HTTP_")
}

// serve passes r on; params are the front end's parameters r was built from.
func (f fastcgiFront) serve(w http.ResponseWriter, r *http.Request, params map[string]string) {
	// RequestFromMap parses REQUEST_URI into URL but leaves RequestURI
	// empty; it is REQUEST_URI again and what --max-url-length measures.
	// (Bytes outside ASCII come back %-escaped.)
	r.RequestURI = r.URL.RequestURI()
	// nginx sends the Content-Type header twice: as CONTENT_TYPE and, with
	// the other headers, as HTTP_CONTENT_TYPE; RequestFromMap adds both,
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
		Env:        make([]string, 0, len(params)),
	}
	// The front end's other variables are passed on, as fcgiwrap passes
	// them (SSL_*, fastcgi_param settings, REMOTE_USER with passUser);
	// empty ones are dropped, since nginx sends e.g. REMOTE_USER="" when
	// there was no authentication, where Apache and the HTTP listener
	// leave the variable out. cgienv drops the names it computes itself.
	for k, v := range params {
		if v == "" || mappedParam(k) || !f.passUser && (k == "REMOTE_USER" || k == "AUTH_TYPE") {
			continue
		}
		gw.Env = append(gw.Env, k+"="+v)
	}
	slices.Sort(gw.Env)
	r = r.WithContext(cgienv.WithGateway(r.Context(), gw))
	apache := strings.HasPrefix(params["SERVER_SOFTWARE"], "Apache")
	f.next.ServeHTTP(&fastcgiWriter{ResponseWriter: w, noAccel: apache}, r)
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
	noAccel     bool // the front end is Apache
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
// the response's Flush drops the error, but it keeps it and returns it
// from the next Write, empty or not.
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
// so the front end and its client see it cut, not complete
// (fcgiResponse.cutResponse). It reports an error when the connection
// could not be cut (the front end had gone).
func (w *fastcgiWriter) CutResponse() error {
	c, ok := w.ResponseWriter.(interface{ cutResponse() error })
	if !ok {
		return errors.New("fastcgi: response cannot be cut")
	}
	return c.cutResponse()
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
