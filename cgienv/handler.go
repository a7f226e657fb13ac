package cgienv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
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
	// ChangesPending, when set, says that something outside the handler
	// reports every change under Root through Invalidate (internal/server
	// does, from inotify): a change is then seen at the next request, not
	// within StatInterval, and a resolution through a symbolic link is
	// not kept. It is asked at each request StatInterval would answer
	// from memory, so it must be cheap; true means changes may be waiting
	// to be reported, or can no longer be, and the file system is looked at.
	ChangesPending func() bool
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
	// StreamBodies hands a body larger than 64 KiB, with a Content-Length
	// or chunked, to the Runner as it arrives (Request.StdinStream),
	// instead of reading it whole first; the Runner must support it.
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
	pending    func() bool    // ChangesPending

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
		serverName: h.ServerName, observe: h.Observe, ids: newRequestIDs(), pending: h.ChangesPending}
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
	if r.ProtoMajor >= 2 && r.Context().Value(http.ServerContextKey) != nil {
		f.wake = make(chan struct{}) // HTTP/2: no connection to take over
	}
	status := h.serve(ctx, st, w, r, &info, f)
	if status == statusAbandoned {
		return // answered and logged by abandon
	}
	info.Status = status
	f.finish(-1)
	if f.reset {
		// net/http answers this panic by resetting the HTTP/2 stream
		// (RST_STREAM), without a log line: the client sees a cut body.
		panic(http.ErrAbortHandler)
	}
}

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

	in, status := h.requestBody(st, w, r, f)
	if status == statusClientGone {
		return status
	}
	if status != 0 {
		return st.writeError(w, r, status, nil)
	}
	if in.file != nil {
		defer func() {
			if !f.orphaned {
				in.file.Close()
			} // else a script still running may read it, by its descriptor
		}()
	}

	q := &envRequest{r: r, method: r.Method, rawQuery: r.URL.RawQuery, script: &s, contentLength: -1, chunked: in.chunked}
	if in.has && !in.chunked {
		q.contentLength = in.n
	}
	var carry http.Header // headers of scripts that redirected internally
	for redirects := 0; ; redirects++ {
		env := h.buildEnv(st, q)
		out, status, done := f.run(&s, env, q.rawQuery, &in, carry)
		if done {
			return status
		}
		if isNPH(s.Filename) {
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
		s, p, in = ts, tp, requestBody{} // the body was the first script's
	}
}

// run hands one script of the request to the Runner. done reports that
// the request has been answered (streamed, abandoned or failed), with
// status the status sent; otherwise out is the script's whole output.
func (f *flight) run(s *Script, env []string, rawQuery string, in *requestBody, carry http.Header) (out *Output, status int, done bool) {
	ctx, st, w, r := f.ctx, f.st, f.w, f.r
	req := &Request{
		Script: s.Filename,
		Stamp:  s.Stamp,
		Env:    env,
		Args:   IndexArgs(rawQuery),
		Stdin:  in.data,
		flight: f,
	}
	if in.file != nil {
		req.StdinFile = in.file
	}
	req.StdinStream = in.stream
	var sm *streamer
	if r.Method != http.MethodHead && !isNPH(s.Filename) {
		sm = &streamer{w: w, script: s, carry: carry, f: f}
		req.Stream = sm.send
	}
	f.start(sm)
	out, err := f.runWake(ctx, req)
	if f.stop() {
		if f.wake != nil {
			return nil, f.answerAbandoned(carry), true
		}
		return nil, statusAbandoned, true
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		f.info.TimedOut = true
	}
	if in.overLimit() && (sm == nil || !sm.started) {
		// A streamed body of unknown length passed MaxBody while the
		// script ran: Apache answers 413 then, whatever the script wrote.
		if out != nil {
			logStderr(ctx, st.logger, s.Filename, out.Stderr)
		}
		st.logger.LogAttrs(ctx, slog.LevelError, "request body over the limit",
			slog.String(keyScript, s.Filename), slog.Int64("limit", st.maxBody))
		w.Header().Set("Connection", "close")
		return nil, st.writeError(w, r, http.StatusRequestEntityTooLarge, carry), true
	}
	if sm != nil && sm.started {
		// The headers and part of the body are out: finish the body.
		if out != nil {
			logStderr(ctx, st.logger, s.Filename, out.Stderr)
			logOutcome(ctx, st.logger, s.Filename, out, nil)
			w.Write(out.Stdout) // a write error means the client left
		}
		if err != nil {
			// As Apache does: the connection is closed before the end of
			// the body (no last chunk), so the client and any proxy see
			// a cut response, not a complete one.
			st.logger.LogAttrs(ctx, slog.LevelError, "streamed response cut short",
				slog.String(keyScript, s.Filename), slog.String(keyErr, err.Error()))
			f.cut()
		}
		return nil, sm.status, true
	}
	if err != nil {
		if out != nil {
			// What a script that timed out wrote to stderr before.
			logStderr(ctx, st.logger, s.Filename, out.Stderr)
		}
		return nil, runFailed(ctx, st, w, r, s.Filename, err, carry), true
	}
	if out == nil {
		out = &Output{}
	}
	logStderr(ctx, st.logger, s.Filename, out.Stderr)
	return out, 0, false
}

// isNPH reports whether a script is a non-parsed-header one, by its name.
func isNPH(filename string) bool {
	return strings.HasPrefix(filepath.Base(filename), "nph-")
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
