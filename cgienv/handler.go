package cgienv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the Handler fields, Apache's where Apache has one.
const (
	DefaultPrefix         = "/cgi-bin/"
	DefaultMaxBody        = 1 << 30 // LimitRequestBody since Apache 2.4.54
	DefaultServerAdmin    = "[no address given]"
	DefaultServerSoftware = "warmcgi"
	// DefaultMaxURLLength is Apache's LimitRequestLine: the longest
	// request-target accepted (414 above it).
	DefaultMaxURLLength = 8190
)

// maxRedirects is Apache's LimitInternalRecursion: a request may be
// redirected internally this many times; one more is a 500.
const maxRedirects = 10

// Handler serves the CGI scripts of one directory over HTTP the way Apache
// 2.4 mod_cgi serves a ScriptAlias directory, running each script through
// a Runner instead of fork and exec. See the package documentation for
// the behaviour and every deliberate difference from Apache.
//
// The fields are read on the first request; do not change them after.
type Handler struct {
	// Root is the directory served (required). Every file below it is a
	// script; none is ever served as content.
	Root string
	// Prefix is the URL path the directory is mounted at; it begins and
	// ends with '/' (added if missing). Empty means DefaultPrefix.
	Prefix string
	// DocumentRoot is DOCUMENT_ROOT and the base of PATH_TRANSLATED.
	// Empty means Root.
	DocumentRoot string
	// Runner runs the scripts (required).
	Runner Runner
	// Logger receives one record per request (at RequestLogLevel),
	// script stderr lines at Warn and errors, each with the request's id
	// (attribute "request_id"). Nil discards everything.
	Logger *slog.Logger
	// RequestLogLevel is the level of the per-request record: Info (the
	// zero value), or Debug where an access log already records every
	// request (the record costs a few microseconds of a fast request).
	RequestLogLevel slog.Level
	// Observe, when not nil, is called once per request after the
	// response has been written, for access logs and metrics. info is
	// valid only during the call.
	Observe func(r *http.Request, info *RequestInfo)
	// PassEnv names variables of the server's environment passed to
	// scripts, like Apache's PassEnv. PATH, LD_LIBRARY_PATH and TZ are
	// always passed.
	PassEnv []string
	// SetEnv holds "NAME=value" settings added to every environment,
	// like Apache's SetEnv; unlike Apache they override the request's own
	// variables too.
	SetEnv []string
	// PassAuthorization passes the Authorization and Proxy-Authorization
	// headers as HTTP_AUTHORIZATION and HTTP_PROXY_AUTHORIZATION, like
	// Apache's CGIPassAuth On.
	PassAuthorization bool
	// FollowSymlinks lets a symbolic link under Root point outside it.
	FollowSymlinks bool
	// StatInterval is how long what a request path resolved to (the
	// script, and the identity of its file) is reused without looking at
	// the file system again: a script changed, removed or made
	// unrunnable is seen within it, and a new one at once. Zero looks
	// at every request.
	StatInterval time.Duration
	// AllowWorldWritable runs scripts that are world-writable or lie in
	// a world-writable directory below Root; by default they give 500,
	// as under Apache's suexec.
	AllowWorldWritable bool
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and
	// X-Forwarded-Port headers are believed when they are the immediate
	// peer (see the package documentation). Empty: those headers are
	// only HTTP_X_FORWARDED_* variables.
	TrustedProxies []netip.Prefix
	// MaxURLLength is the longest request-target (path and query, as
	// sent) accepted; longer ones give 414 before anything else is
	// looked at. Zero means DefaultMaxURLLength and a negative value
	// means no limit.
	MaxURLLength int
	// MaxBody is the largest request body accepted (413 above it); zero
	// means DefaultMaxBody and a negative value means no limit.
	MaxBody int64
	// StreamBodies hands a body larger than 64 KiB with a Content-Length
	// to the Runner as it arrives (Request.StdinStream), instead of
	// reading it whole first; the Runner must support it.
	StreamBodies bool
	// ServerSoftware is SERVER_SOFTWARE; empty means DefaultServerSoftware.
	ServerSoftware string
	// ServerSignature is SERVER_SIGNATURE (empty by default, as with
	// Apache's ServerSignature Off).
	ServerSignature string
	// ServerAdmin is SERVER_ADMIN; empty means DefaultServerAdmin.
	ServerAdmin string
	// ServerName is SERVER_NAME for requests without a Host header (HTTP
	// 1.0); empty means the local IP address.
	ServerName string

	once sync.Once
	st   *handlerState
}

// handlerState is what the Handler derives from its fields once.
type handlerState struct {
	configErr  error
	runner     Runner
	logger     *slog.Logger
	reqLevel   slog.Level
	observe    func(*http.Request, *RequestInfo)
	ids        *requestIDs
	prefix     string
	root       string // cleaned, absolute
	realRoot   string // root with symbolic links resolved
	docRoot    string // prefix of PATH_TRANSLATED, no trailing slash
	serverName string
	maxBody    int64
	maxURL     int
	trusted    []netip.Prefix // unmapped, masked
	scripts    *scriptCache   // nil: StatInterval is zero

	base           []string // server environment entries
	baseNames      []string
	baseMayCollide []bool
	set            []string // SetEnv entries
	setNames       []string

	admin, signature string

	signatureEntry, softwareEntry, docRootEntry string
	contextPrefixEntry, contextDocRootEntry     string
	adminEntry                                  string
}

func (h *Handler) state() *handlerState {
	h.once.Do(func() { h.st = h.newState() })
	return h.st
}

func (h *Handler) newState() *handlerState {
	st := &handlerState{runner: h.Runner, logger: h.Logger, reqLevel: h.RequestLogLevel,
		serverName: h.ServerName, observe: h.Observe, ids: newRequestIDs()}
	if h.StatInterval > 0 {
		st.scripts = newScriptCache(h.StatInterval)
	}
	if st.logger == nil {
		st.logger = slog.New(slog.DiscardHandler)
	} else {
		st.logger = slog.New(idHandler{st.logger.Handler()})
	}
	switch {
	case h.Root == "":
		st.configErr = errors.New("cgienv: Handler.Root is not set")
	case h.Runner == nil:
		st.configErr = errors.New("cgienv: Handler.Runner is not set")
	}

	st.prefix = h.Prefix
	if st.prefix == "" {
		st.prefix = DefaultPrefix
	}
	if !strings.HasPrefix(st.prefix, "/") {
		st.prefix = "/" + st.prefix
	}
	if !strings.HasSuffix(st.prefix, "/") {
		st.prefix += "/"
	}

	root, err := filepath.Abs(h.Root)
	if err != nil && st.configErr == nil {
		st.configErr = fmt.Errorf("cgienv: root %q: %w", h.Root, err)
	}
	st.root = root
	if st.realRoot, err = filepath.EvalSymlinks(root); err != nil {
		st.realRoot = root // a missing root makes every request a 404
	}
	docRoot := root
	if h.DocumentRoot != "" {
		docRoot = filepath.Clean(h.DocumentRoot)
	}
	st.docRoot = strings.TrimSuffix(docRoot, "/")
	contextDocRoot := root + "/"
	if root == "/" {
		contextDocRoot = "/"
	}

	st.maxBody = h.MaxBody
	if st.maxBody == 0 {
		st.maxBody = DefaultMaxBody
	}
	st.maxURL = h.MaxURLLength
	if st.maxURL == 0 {
		st.maxURL = DefaultMaxURLLength
	}
	for _, p := range h.TrustedProxies {
		if p.IsValid() {
			st.trusted = append(st.trusted, unmapPrefix(p))
		}
	}
	software := h.ServerSoftware
	if software == "" {
		software = DefaultServerSoftware
	}
	admin := h.ServerAdmin
	if admin == "" {
		admin = DefaultServerAdmin
	}
	st.admin, st.signature = admin, h.ServerSignature
	st.signatureEntry = "SERVER_SIGNATURE=" + h.ServerSignature
	st.softwareEntry = "SERVER_SOFTWARE=" + software
	st.docRootEntry = "DOCUMENT_ROOT=" + docRoot
	st.contextPrefixEntry = "CONTEXT_PREFIX=" + st.prefix
	st.contextDocRootEntry = "CONTEXT_DOCUMENT_ROOT=" + contextDocRoot
	st.adminEntry = "SERVER_ADMIN=" + admin

	st.base, st.baseNames = serverEnv(h.PassEnv)
	st.baseMayCollide = make([]bool, len(st.baseNames))
	for i, n := range st.baseNames {
		st.baseMayCollide[i] = mayBeCGIName(n)
	}
	st.set, st.setNames = parseSetEnv(h.SetEnv)
	return st
}

// ServeHTTP runs the script the request path resolves to and sends its
// response.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := h.state()
	info := RequestInfo{ID: st.requestID(r), Start: start}
	ctx := context.WithValue(r.Context(), requestIDKey{}, info.ID)
	var cw *countingWriter
	if st.observe != nil {
		cw = &countingWriter{ResponseWriter: w, head: r.Method == http.MethodHead}
		w = cw
	}
	f := &flight{ctx: ctx, st: st, w: w, r: r, cw: cw, info: &info}
	status := h.serve(ctx, st, w, r, &info, f)
	if status == statusAbandoned {
		return // answered and logged by abandon
	}
	info.Status = status
	f.finish(-1)
}

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
	sm                 *streamer // the running request's, or nil
}

// start marks the request as handed to the Runner, with its streamer.
func (f *flight) start(sm *streamer) {
	f.mu.Lock()
	f.running, f.sm = true, sm
	f.mu.Unlock()
}

// stop marks the request as back from the Runner; it reports whether the
// client was answered meanwhile, so that nothing else may be sent.
func (f *flight) stop() (abandoned bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running, f.sm = false, nil
	return f.abandoned
}

// Abandon is for a Runner that gives up waiting for the script of the
// request, which overran its time limit and cannot be stopped (it caught
// the exception that ends it, or it is blocked in C), and that goes on
// running. It may be called from any goroutine while Run runs. The client
// is answered at once: 504, or, when part of the response is out, a cut
// connection, as Apache does when it kills a script; from then on the
// script's output, its reads of the body and what Run returns are ignored.
// It reports false, having changed nothing, when the connection cannot be
// taken over (FastCGI, HTTP/2) or Run has returned: the handler then
// answers when Run returns, as usual.
func (r *Request) Abandon() bool {
	if r.flight == nil {
		return false
	}
	return r.flight.abandon()
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
	bytes := int64(-1)
	if f.sm != nil && f.sm.started {
		if f.cw != nil {
			bytes = f.cw.sent()
		}
		conn, _, err := rc.Hijack()
		if err != nil {
			_ = rc.SetReadDeadline(time.Time{})
			return false
		}
		conn.Close()
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
	f.abandoned = true
	info.TimedOut = true
	st.logger.LogAttrs(f.ctx, slog.LevelError, "script overran its time limit and cannot be stopped: the client is answered, the script runs on in an abandoned interpreter",
		slog.String(keyScript, info.Script), slog.Int(keyStatus, info.Status))
	f.finish(bytes)
	return true
}

// flightReader is a streamed request body that a script stops reading
// from once its request has been abandoned.
type flightReader struct {
	f    *flight
	body io.Reader
}

func (fr flightReader) Read(p []byte) (int, error) {
	fr.f.mu.Lock()
	defer fr.f.mu.Unlock()
	if fr.f.abandoned {
		return 0, errAbandoned
	}
	return fr.body.Read(p)
}

var errAbandoned = errors.New("cgienv: request abandoned after its time limit")

// serve handles one request and returns the status sent, for the log. It
// records the script it ran, and whether it timed out, in info.
func (h *Handler) serve(ctx context.Context, st *handlerState, w http.ResponseWriter, r *http.Request, info *RequestInfo, f *flight) int {
	if st.maxURL >= 0 && len(r.RequestURI) > st.maxURL {
		// First, as Apache checks LimitRequestLine while reading the
		// request line: nothing of an oversized target is interpreted.
		st.logger.LogAttrs(ctx, slog.LevelInfo, "request-target too long",
			slog.String(keyErr, fmt.Sprintf("%d bytes, limit %d", len(r.RequestURI), st.maxURL)))
		w.Header().Set("Connection", "close")
		return st.writeError(w, r, http.StatusRequestURITooLong, nil)
	}
	if st.configErr != nil {
		st.logger.LogAttrs(ctx, slog.LevelError, "misconfigured handler", slog.String(keyErr, st.configErr.Error()))
		return st.writeError(w, r, http.StatusInternalServerError, nil)
	}
	p, err := cleanPath(r.URL.EscapedPath())
	var s Script
	if err == nil {
		s, err = h.resolveClean(st, p)
	}
	if err != nil {
		return resolveFailed(ctx, st, w, r, err, nil)
	}
	info.Script, info.ScriptName = s.Filename, s.Name

	var stdinStream io.Reader
	var body []byte
	var bodyFile *os.File
	var bodyLen int64
	var hasBody bool
	var status int
	if h.StreamBodies && r.ContentLength > streamAt && (st.maxBody < 0 || r.ContentLength <= st.maxBody) {
		// A large body with a known length goes to the script as it
		// arrives (net/http stops at Content-Length and reports a short
		// body as an error to the reader).
		stdinStream, bodyLen, hasBody = flightReader{f, r.Body}, r.ContentLength, true
		// A script may answer (and flush) before it has read all of its
		// body; without this, net/http would first read the rest of the
		// body itself, and wait for the client to send it. Front ends
		// that cannot (FastCGI) return an error: nothing to change there.
		_ = http.NewResponseController(w).EnableFullDuplex()
	} else {
		body, bodyFile, bodyLen, hasBody, status = readBody(r, st.maxBody)
	}
	if status == statusClientGone {
		return status
	}
	if status != 0 {
		return st.writeError(w, r, status, nil)
	}
	if bodyFile != nil {
		defer bodyFile.Close()
	}

	q := &envRequest{r: r, method: r.Method, rawQuery: r.URL.RawQuery, script: &s, contentLength: -1}
	if hasBody {
		q.contentLength = bodyLen
	}
	var carry http.Header // headers of scripts that redirected internally
	for redirects := 0; ; redirects++ {
		env := h.buildEnv(st, q)
		req := &Request{
			Script: s.Filename,
			Stamp:  s.Stamp,
			Env:    env,
			Args:   IndexArgs(q.rawQuery),
			Stdin:  body,
			flight: f,
		}
		if bodyFile != nil {
			req.StdinFile = bodyFile
		}
		req.StdinStream = stdinStream
		var sm *streamer
		if r.Method != http.MethodHead && !strings.HasPrefix(filepath.Base(s.Filename), "nph-") {
			sm = &streamer{w: w, script: &s, carry: carry, f: f}
			req.Stream = sm.send
		}
		f.start(sm)
		out, err := st.runner.Run(ctx, req)
		if f.stop() {
			return statusAbandoned
		}
		if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			info.TimedOut = true
		}
		if sm != nil && sm.started {
			// The headers and part of the body are out: finish the body.
			if out != nil {
				logStderr(ctx, st.logger, s.Filename, out.Stderr)
				logOutcome(ctx, st.logger, s.Filename, out, nil)
				w.Write(out.Stdout) // a write error means the client left
			}
			if err != nil {
				st.logger.LogAttrs(ctx, slog.LevelError, "streamed response cut short",
					slog.String(keyScript, s.Filename), slog.String(keyErr, err.Error()))
			}
			return sm.status
		}
		if err != nil {
			if out != nil {
				// What a script that timed out wrote to stderr before.
				logStderr(ctx, st.logger, s.Filename, out.Stderr)
			}
			return runFailed(ctx, st, w, r, s.Filename, err, carry)
		}
		if out == nil {
			out = &Output{}
		}
		logStderr(ctx, st.logger, s.Filename, out.Stderr)

		if strings.HasPrefix(filepath.Base(s.Filename), "nph-") {
			logOutcome(ctx, st.logger, s.Filename, out, nil)
			return st.writeNPH(ctx, w, r, s.Filename, out.Stdout)
		}
		resp, err := ParseResponse(out.Stdout)
		logOutcome(ctx, st.logger, s.Filename, out, err)
		if err != nil {
			return st.writeError(w, r, http.StatusInternalServerError, carry)
		}
		if resp.InvalidStatus {
			st.logger.LogAttrs(ctx, slog.LevelError, "invalid status line from script",
				slog.String(keyScript, s.Filename), slog.String(keyStatus, resp.StatusLine))
		}

		loc, hasLoc := resp.Header["Location"]
		if !hasLoc || resp.Status != http.StatusOK || !strings.HasPrefix(loc[0], "/") {
			return st.writeResponse(w, r, &s, resp, carry)
		}

		// A local redirect (RFC 3875 section 6.2.2): run the target as a
		// new GET request, keeping the script's other headers, as
		// Apache's internal redirect keeps err_headers_out.
		if redirects == maxRedirects {
			st.logger.LogAttrs(ctx, slog.LevelError, "request exceeded the limit of 10 internal redirects",
				slog.String(keyScript, s.Filename))
			return st.writeError(w, r, http.StatusInternalServerError, carry)
		}
		carry = mergeHeader(carry, resp.Header, "Location")
		target, query := splitLocation(loc[0])
		tp, err := cleanPath(target)
		var ts Script
		if err == nil {
			// Only scripts can be targets: a path outside the prefix is
			// a 404, since there is no static document root (yet).
			ts, err = h.resolveClean(st, tp)
		}
		if err != nil {
			return resolveFailed(ctx, st, w, r, err, carry)
		}
		info.Script, info.ScriptName = ts.Filename, ts.Name
		q = &envRequest{
			r:             r,
			method:        http.MethodGet,
			rawQuery:      query,
			script:        &ts,
			contentLength: -1,
			prevEnv:       env,
			prevURL:       p,
			prevQuery:     q.rawQuery,
			redirecting:   true,
		}
		s, p, body, bodyFile, stdinStream = ts, tp, nil, nil, nil
	}
}

// splitLocation splits a local Location into its escaped path and raw
// query, dropping any fragment. It never treats "//x" as a host.
func splitLocation(loc string) (path, query string) {
	if i := strings.IndexByte(loc, '#'); i >= 0 {
		loc = loc[:i]
	}
	path, query, _ = strings.Cut(loc, "?")
	return path, query
}

// streamAt is the body size above which, when Handler.StreamBodies is
// set, a body with a Content-Length is handed to the script as it arrives
// instead of being read whole first.
const streamAt = 64 << 10

// spoolAt is the body size above which a request body is kept in an
// unlinked temporary file instead of memory (COMPAT 19): a few large
// uploads must not cost the server gigabytes of memory.
const spoolAt = 1 << 20

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
		file, err = os.CreateTemp("", "warmcgi-body-*")
		if err != nil {
			return nil, nil, 0, true, http.StatusInternalServerError
		}
		os.Remove(file.Name()) // unlinked: gone with the last descriptor
		var rest int64
		if _, err = buf.WriteTo(file); err == nil {
			rest, err = io.Copy(file, rd)
			n += rest
		}
		if err == nil {
			_, err = file.Seek(0, io.SeekStart)
		}
	}
	fail := func(status int) ([]byte, *os.File, int64, bool, int) {
		if file != nil {
			file.Close()
		}
		return nil, nil, 0, true, status
	}
	if err != nil {
		if r.Context().Err() != nil {
			return fail(statusClientGone)
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(http.StatusRequestEntityTooLarge)
		}
		return fail(http.StatusBadRequest)
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

// writeResponse sends a parsed script response.
func (st *handlerState) writeResponse(w http.ResponseWriter, r *http.Request, s *Script, resp *Response, carry http.Header) int {
	hdr := w.Header()
	mergeInto(hdr, carry, "")
	mergeInto(hdr, resp.Header, "")
	status, reason, body := resp.Status, resp.Reason, resp.Body
	ct, hasCT := resp.ContentType, resp.HasContentType
	if loc, ok := resp.Header["Location"]; ok && status == http.StatusOK {
		// A Location that is not a local path, without a Status: a client
		// redirect, sent as Apache sends it, with its own small body
		// instead of the script's (RFC 3875 section 6.2.3).
		status, reason = http.StatusFound, http.StatusText(http.StatusFound)
		body = []byte(st.page(status, `<p>The document has moved <a href="`+escapeHTML(loc[0])+"\">here</a>.</p>\n"))
		ct, hasCT = htmlType, true
	}
	if !hasCT {
		// Apache gives the script file's own MIME type.
		ct = defaultContentType(s.Filename)
	}
	noBody := status == http.StatusNoContent || status == http.StatusNotModified
	if noBody {
		body = nil
		delete(hdr, "Content-Type")
	} else {
		if ct != "" {
			hdr.Set("Content-Type", ct)
		} else {
			hdr["Content-Type"] = nil // keep net/http from sniffing one
		}
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if reason != wireReason(status) && r.ProtoMajor == 1 &&
		writeRaw(w, r, status, reason, body, noBody) {
		return status
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead && !noBody {
		w.Write(body) // a write error means the client left; nothing to do
	}
	return status
}

// streamer sends a response while its script still runs, from the first
// flush after the header block is complete. Only plain documents stream:
// a redirect, an unusual status or reason phrase, HEAD and NPH scripts
// are answered once the script has ended, as before.
type streamer struct {
	f       *flight
	w       http.ResponseWriter
	script  *Script
	carry   http.Header
	started bool
	status  int
}

// send is Request.Stream. It runs while the handler goroutine waits for
// the Runner (or is the Runner), so the two never use w at once; a Runner
// that abandons the request uses w under the flight's lock.
func (sm *streamer) send(chunk []byte) StreamAnswer {
	sm.f.mu.Lock()
	defer sm.f.mu.Unlock()
	if sm.f.abandoned {
		return StreamGone
	}
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

// wireReason is the reason phrase net/http writes for code.
func wireReason(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "status code " + strconv.Itoa(code)
}

// writeRaw sends a response with a reason phrase net/http cannot send, by
// taking the HTTP/1.x connection over and closing it afterwards. It
// reports false, having written nothing, when the connection cannot be
// taken over.
func writeRaw(w http.ResponseWriter, r *http.Request, status int, reason string, body []byte, noBody bool) bool {
	hdr := w.Header()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	defer conn.Close()
	bw := brw.Writer
	if r.ProtoAtLeast(1, 1) {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	bw.WriteString(strconv.Itoa(status))
	bw.WriteByte(' ')
	bw.WriteString(reason)
	bw.WriteString("\r\n")
	if _, ok := hdr["Date"]; !ok {
		hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	hdr.Set("Connection", "close")
	hdr.Write(bw)
	bw.WriteString("\r\n")
	if r.Method != http.MethodHead && !noBody {
		bw.Write(body)
	}
	bw.Flush() // a write error means the client left; nothing to do
	return true
}

// writeNPH sends the output of a non-parsed-header script unmodified and
// closes the connection, as Apache does (RFC 3875 section 5), even for
// HEAD. Over HTTP/2, where a connection cannot be taken over, the output
// is parsed as an HTTP/1.1 response and relayed.
func (st *handlerState) writeNPH(ctx context.Context, w http.ResponseWriter, r *http.Request, script string, out []byte) int {
	if r.ProtoMajor == 1 {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			defer conn.Close()
			conn.Write(out) // a write error means the client left
			return nphStatus(out)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), r)
	if err != nil {
		st.logger.LogAttrs(ctx, slog.LevelError, "invalid response from nph script",
			slog.String(keyScript, script), slog.String(keyErr, err.Error()))
		return st.writeError(w, r, http.StatusBadGateway, nil)
	}
	defer resp.Body.Close()
	mergeInto(w.Header(), resp.Header, "")
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
	return resp.StatusCode
}

// nphStatus reads the status code of a raw HTTP response, for the log;
// zero if there is none.
func nphStatus(out []byte) int {
	line, _, _ := bytes.Cut(out, []byte("\n"))
	_, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(rest) < 3 {
		return 0
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil {
		return 0
	}
	return code
}

// hopByHop are response headers a script must not send (RFC 3875 section
// 6.3.4): net/http manages the connection itself. Apache passes them on.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// mergeInto adds the headers of src to dst the way Apache merges a
// script's headers into a response: a name already present gets the new
// values appended after ", ", except Set-Cookie, which keeps one line per
// cookie. Hop-by-hop headers and the name skip are left out.
func mergeInto(dst, src http.Header, skip string) {
	for k, vv := range src {
		if k == skip || hopByHop[k] || len(vv) == 0 {
			continue
		}
		prev := dst[k]
		switch {
		case len(prev) == 0:
			dst[k] = append([]string(nil), vv...)
		case k == "Set-Cookie":
			dst[k] = append(prev, vv...)
		default:
			dst[k] = []string{prev[0] + ", " + strings.Join(vv, ", ")}
		}
	}
}

// mergeHeader returns dst with src merged in (see mergeInto), allocating
// dst if needed.
func mergeHeader(dst, src http.Header, skip string) http.Header {
	if dst == nil {
		dst = make(http.Header, len(src))
	}
	mergeInto(dst, src, skip)
	return dst
}

// defaultContentType is the Content-Type Apache sends for a script that
// sent none: the MIME type of the script file itself (mod_mime), which
// for .py is Debian's text/x-python, or nothing for unknown extensions.
func defaultContentType(filename string) string {
	ext := filepath.Ext(filename)
	switch {
	case ext == "":
		return ""
	case strings.EqualFold(ext, ".py"):
		return "text/x-python"
	}
	// Go adds a charset to text types; Apache sends the bare type.
	return strings.TrimSuffix(mime.TypeByExtension(ext), "; charset=utf-8")
}

// resolveFailed answers a request whose path did not resolve to a script.
func resolveFailed(ctx context.Context, st *handlerState, w http.ResponseWriter, r *http.Request, err error, carry http.Header) int {
	status, level, msg := http.StatusInternalServerError, slog.LevelError, "cannot resolve script"
	switch {
	case errors.Is(err, ErrBadPath):
		status, level, msg = http.StatusBadRequest, slog.LevelInfo, "invalid request path"
	case errors.Is(err, ErrNotFound):
		status, level, msg = http.StatusNotFound, slog.LevelInfo, "script not found"
	case errors.Is(err, ErrForbidden):
		status, level, msg = http.StatusForbidden, slog.LevelInfo, "attempt to invoke directory as script"
	case errors.Is(err, ErrNotExecutable):
		msg = "script not executable" // Apache: "Permission denied: exec of ... failed"
	case errors.Is(err, ErrWritable):
		msg = "script or directory writable by others" // suexec: "directory is writable by others"
	}
	st.logger.LogAttrs(ctx, level, msg, slog.String(keyPath, r.URL.Path), slog.String(keyErr, err.Error()))
	return st.writeError(w, r, status, carry)
}

// runFailed answers a request the Runner could not run.
func runFailed(ctx context.Context, st *handlerState, w http.ResponseWriter, r *http.Request, script string, err error, carry http.Header) int {
	attrs := []slog.Attr{slog.String(keyScript, script), slog.String(keyErr, err.Error())}
	switch {
	case errors.Is(err, ErrOverloaded):
		st.logger.LogAttrs(ctx, slog.LevelWarn, "no capacity for request", attrs...)
		return st.writeError(w, r, http.StatusServiceUnavailable, carry)
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		// The client went away: there is no one to answer.
		st.logger.LogAttrs(ctx, slog.LevelInfo, "request canceled", attrs...)
		return statusClientGone
	case errors.Is(err, context.DeadlineExceeded):
		st.logger.LogAttrs(ctx, slog.LevelError, "script timed out", attrs...)
		return st.writeError(w, r, http.StatusGatewayTimeout, carry)
	default:
		st.logger.LogAttrs(ctx, slog.LevelError, "cannot run script", attrs...)
		return st.writeError(w, r, http.StatusInternalServerError, carry)
	}
}

// logOutcome logs a response the handler rejects and a script that failed
// or exited with a non-zero status.
func logOutcome(ctx context.Context, l *slog.Logger, script string, out *Output, parseErr error) {
	attrs := []slog.Attr{slog.String(keyScript, script), slog.Int(keyExitCode, out.ExitCode)}
	if out.Failure != "" {
		attrs = append(attrs, slog.String(keyErr, out.Failure))
	}
	switch {
	case parseErr != nil:
		msg := "malformed header from script"
		switch {
		case errors.Is(parseErr, ErrNoHeaderEnd):
			msg = "end of script output before headers"
		case errors.Is(parseErr, ErrHeaderTooLong):
			msg = "script header line too long"
		case errors.Is(parseErr, ErrTooManyHeaders):
			msg = "too many header lines from script"
		}
		if out.Failure == "" {
			attrs = append(attrs, slog.String(keyErr, parseErr.Error()))
		}
		l.LogAttrs(ctx, slog.LevelError, msg, attrs...)
	case out.Failure != "":
		l.LogAttrs(ctx, slog.LevelWarn, "script failed", attrs...)
	case out.ExitCode != 0:
		l.LogAttrs(ctx, slog.LevelWarn, "script exited with non-zero status", attrs...)
	}
}

const htmlType = "text/html; charset=iso-8859-1"

// errorTexts are the explanations of Apache 2.4's canned error pages
// (get_canned_error_string); 413 and 500 are built in page.
var errorTexts = map[int]string{
	http.StatusBadRequest:         "<p>Your browser sent a request that this server could not understand.<br />\n</p>\n",
	http.StatusForbidden:          "<p>You don't have permission to access this resource.</p>\n",
	http.StatusRequestURITooLong:  "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>\n",
	http.StatusNotFound:           "<p>The requested URL was not found on this server.</p>\n",
	http.StatusBadGateway:         "<p>The proxy server received an invalid\r\nresponse from an upstream server.<br />\r\n</p>\n",
	http.StatusServiceUnavailable: "<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n",
	http.StatusGatewayTimeout:     "<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n",
}

// writeError sends an error page like Apache's, with the headers of
// scripts that redirected internally, as Apache keeps them.
func (st *handlerState) writeError(w http.ResponseWriter, r *http.Request, status int, carry http.Header) int {
	hdr := w.Header()
	mergeInto(hdr, carry, "")
	var text string
	switch status {
	case http.StatusRequestEntityTooLarge:
		text = "The requested resource does not allow request data with " + escapeHTML(r.Method) +
			" requests, or the amount of data provided in\nthe request exceeds the capacity limit.\n"
	case http.StatusInternalServerError:
		text = "<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\n" +
			"your request.</p>\n<p>Please contact the server administrator at \n " + escapeHTML(st.admin) +
			" to inform them of the time this error occurred,\n and the actions you performed just before this error.</p>\n" +
			"<p>More information about this error may be available\nin the server error log.</p>\n"
	default:
		text = errorTexts[status]
	}
	body := st.page(status, text)
	hdr.Set("Content-Type", htmlType)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	if status == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
	return status
}

// page wraps text in Apache's page for a status, with the server signature
// after a rule when there is one.
func (st *handlerState) page(status int, text string) string {
	title := http.StatusText(status)
	sig := ""
	if st.signature != "" {
		sig = "<hr>\n" + st.signature
	}
	return "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n" +
		"<html><head>\n<title>" + strconv.Itoa(status) + " " + title + "</title>\n</head><body>\n<h1>" +
		title + "</h1>\n" + text + sig + "</body></html>\n"
}

// escapeHTML escapes what Apache's ap_escape_html escapes.
var escapeHTML = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace
