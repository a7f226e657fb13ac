package cgienv

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
)

// defaultPath is the PATH a script gets when the server has none, Debian's
// Apache default.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxIndexArgs is the most ISINDEX words Apache passes: APACHE_ARG_MAX
// (_POSIX_ARG_MAX, 4096) minus argv[0] and the terminating NULL.
const maxIndexArgs = 4094

// envRequest is what one environment is built from. The first request of
// an HTTP exchange uses the client's method, query and body; an internal
// redirect uses GET, the Location's query, no body and the previous
// environment.
type envRequest struct {
	r             *http.Request
	method        string
	rawQuery      string
	script        *Script
	contentLength int64 // -1: no request body, CONTENT_LENGTH is unset
	// chunked: a body of unknown length, passed on as Apache does: no
	// CONTENT_LENGTH, HTTP_TRANSFER_ENCODING=chunked (COMPAT 19).
	chunked bool

	// For internal redirects only.
	prevEnv     []string // renamed to REDIRECT_*
	prevURL     string   // REDIRECT_URL: the previous decoded path
	prevQuery   string   // REDIRECT_QUERY_STRING
	redirecting bool
}

// BuildEnv returns the CGI environment Apache 2.4 mod_cgi would give the
// script s for request r (see the package documentation for every
// variable). contentLength is the length of the request body as the
// script will read it, or -1 when the request has no body, in which case
// CONTENT_LENGTH is not set (the handler also leaves it out for a body of
// unknown length, and sets HTTP_TRANSFER_ENCODING=chunked; BuildEnv never
// does). The result is built from an empty base: of
// the server's own environment it holds only PATH, LD_LIBRARY_PATH, TZ and
// the PassEnv names.
func (h *Handler) BuildEnv(r *http.Request, s *Script, contentLength int64) []string {
	return h.buildEnv(h.state(), &envRequest{
		r:             r,
		method:        r.Method,
		rawQuery:      r.URL.RawQuery,
		script:        s,
		contentLength: contentLength,
	})
}

func (h *Handler) buildEnv(st *handlerState, q *envRequest) []string {
	r := q.r
	s := q.script

	// Headers in a stable order; the script sees them sorted by name.
	var hdrBuf [48]headerField
	hdrs := hdrBuf[:0]
	size := 1024 + 2*len(st.root) + 3*len(s.Name) + 3*len(s.PathInfo) +
		len(st.docRoot) + len(r.RequestURI) + len(q.rawQuery) + 3*len(r.Host)
	for k, vv := range r.Header {
		hdrs = append(hdrs, headerField{k, vv})
		size += len(k) + 8
		for _, v := range vv {
			size += len(v) + 2
		}
	}
	if q.chunked && r.Header["Transfer-Encoding"] == nil {
		hdrs = append(hdrs, headerField{"Transfer-Encoding", chunkedValue})
	}
	slices.SortFunc(hdrs, func(a, b headerField) int { return strings.Compare(a.name, b.name) })
	for _, e := range q.prevEnv {
		size += len(e) + len("REDIRECT_")
	}

	// Every entry is written into one string and sliced out of it at the
	// end, so an environment costs two allocations instead of one per
	// variable.
	var w envWriter
	w.b.Grow(size)
	h.headerVars(&w, hdrs, q)
	gw := gatewayOf(r.Context())
	st.serverVars(&w, q, gw)
	st.cgiVars(&w, q, gw)

	all := w.b.String()
	env := make([]string, w.n, w.n+len(st.base)+len(st.set))
	prev := int32(0)
	for i := range env {
		end := w.end(i)
		env[i] = all[prev:end]
		prev = end
	}

	// The server's own environment: PATH, LD_LIBRARY_PATH, TZ, PassEnv.
	// A request variable of the same name wins, as in Apache.
	for i, e := range st.base {
		if st.baseMayCollide[i] && hasEnvName(env, st.baseNames[i]) {
			continue
		}
		env = append(env, e)
	}
	// SetEnv overrides everything.
	for i, e := range st.set {
		env = removeEnvName(env, st.setNames[i])
		env = append(env, e)
	}
	return env
}

// envWriter writes environment entries one after another into one
// string, and where each ends: the first ones in an array of its own, so
// that a writer on the stack allocates nothing but its string.
type envWriter struct {
	b    strings.Builder
	n    int        // entries
	ends [128]int32 // where entry i ends, for the first 128
	more []int32    // and for the rest
}

// mark ends the entry written so far.
func (w *envWriter) mark() {
	if w.n < len(w.ends) {
		w.ends[w.n] = int32(w.b.Len())
	} else {
		w.more = append(w.more, int32(w.b.Len()))
	}
	w.n++
}

// end is where entry i ends.
func (w *envWriter) end(i int) int32 {
	if i < len(w.ends) {
		return w.ends[i]
	}
	return w.more[i-len(w.ends)]
}

// kv writes the entry name=value.
func (w *envWriter) kv(name, value string) {
	w.b.WriteString(name)
	w.b.WriteByte('=')
	w.b.WriteString(value)
	w.mark()
}

// entry writes a whole "NAME=value" entry.
func (w *envWriter) entry(e string) {
	w.b.WriteString(e)
	w.mark()
}

// headerVars writes the request headers, as ap_add_common_vars maps
// them, then HTTP_HOST and CONTENT_LENGTH.
func (h *Handler) headerVars(w *envWriter, hdrs []headerField, q *envRequest) {
	b, r := &w.b, q.r
	for _, f := range hdrs {
		k, vv := f.name, f.values
		if len(vv) == 0 || !validEnvHeaderName(k) {
			// Apache drops names with anything but [A-Za-z0-9-], so that
			// X_Forwarded_For cannot pose as X-Forwarded-For.
			continue
		}
		switch headerKind(k) {
		case hdrContentType:
			b.WriteString("CONTENT_TYPE=")
		case hdrSkip:
			// CONTENT_LENGTH comes from the body actually read; HTTP_HOST
			// comes from r.Host below; Proxy never becomes HTTP_PROXY
			// (httpoxy).
			continue
		case hdrTE:
			// Only a body of unknown length, as Apache sees it (mod_http2
			// too marks one chunked); the script reads it to EOF.
			if !q.chunked {
				continue
			}
			b.WriteString("HTTP_TRANSFER_ENCODING=")
			vv = chunkedValue
		case hdrAuth:
			if !h.PassAuthorization {
				continue // RFC 3875 section 9.2; Apache's CGIPassAuth Off
			}
			writeHTTPName(b, k)
		default:
			writeHTTPName(b, k)
		}
		for i, v := range vv {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v)
		}
		w.mark()
	}
	if r.Host != "" {
		w.kv("HTTP_HOST", r.Host)
	}
	if q.contentLength >= 0 {
		var buf [20]byte
		w.kv("CONTENT_LENGTH", string(strconv.AppendInt(buf[:0], q.contentLength, 10)))
	}
}

// serverVars writes the server variables, in ap_add_common_vars' order,
// from the peer, what a trusted proxy in front says about the client, and
// what a FastCGI front end (gw, or nil) says.
func (st *handlerState) serverVars(w *envWriter, q *envRequest, gw *Gateway) {
	b, r := &w.b, q.r
	remoteHost, remotePort := splitPeer(r.RemoteAddr)
	secure := r.TLS != nil
	host, hostPort := splitHost(r.Host)
	if gw != nil {
		// Behind a FastCGI front end, the front end says which name and
		// port the client reached (its Host may lack the port).
		if gw.ServerName != "" {
			host = gw.ServerName
		}
		if gw.ServerPort != "" {
			hostPort = gw.ServerPort
		}
	}
	if fw, ok := st.forwardedFor(r, remoteHost); ok {
		if fw.remoteAddr != "" {
			remoteHost = fw.remoteAddr // REMOTE_PORT stays the peer's, as with mod_remoteip
		}
		if fw.scheme != "" {
			secure = fw.scheme == "https"
		}
		if fw.host != "" {
			host, hostPort = fw.host, ""
		}
		if fw.port != "" {
			hostPort = fw.port
		}
	}

	if secure {
		w.entry("HTTPS=on")
	}
	w.entry(st.signatureEntry)
	w.entry(st.softwareEntry)
	local, haveLocal := localAddr(r.Context())
	if gw != nil {
		// The connection is the front end's: only its word counts.
		a, err := netip.ParseAddr(gw.ServerAddr)
		local, haveLocal = netip.AddrPortFrom(a.Unmap(), 0), err == nil
	}
	b.WriteString("SERVER_NAME=")
	switch {
	case host != "":
		writeServerName(b, host)
	case st.serverName != "":
		b.WriteString(st.serverName)
	case haveLocal && local.Addr().Is6():
		b.WriteByte('[')
		b.WriteString(local.Addr().String())
		b.WriteByte(']')
	case haveLocal:
		b.WriteString(local.Addr().String())
	}
	w.mark()
	if haveLocal {
		var buf [64]byte
		b.WriteString("SERVER_ADDR=")
		b.Write(local.Addr().AppendTo(buf[:0]))
		w.mark()
	}
	switch {
	case hostPort != "":
		w.kv("SERVER_PORT", hostPort)
	case secure:
		w.entry("SERVER_PORT=443")
	default:
		w.entry("SERVER_PORT=80")
	}
	w.kv("REMOTE_ADDR", remoteHost)
	w.entry(st.docRootEntry)
	if secure {
		w.entry("REQUEST_SCHEME=https")
	} else {
		w.entry("REQUEST_SCHEME=http")
	}
	w.entry(st.contextPrefixEntry)
	w.entry(st.contextDocRootEntry)
	w.entry(st.adminEntry)
	w.kv("SCRIPT_FILENAME", q.script.Filename)
	if remotePort != "" {
		w.kv("REMOTE_PORT", remotePort)
	}
}

// cgiVars writes the CGI variables, as ap_add_cgi_vars sets them, those a
// FastCGI front end (gw, or nil) adds, and after an internal redirect the
// REDIRECT_ ones.
func (st *handlerState) cgiVars(w *envWriter, q *envRequest, gw *Gateway) {
	b, r, s := &w.b, q.r, q.script
	w.entry("GATEWAY_INTERFACE=CGI/1.1")
	w.kv("SERVER_PROTOCOL", r.Proto)
	w.kv("REQUEST_METHOD", q.method)
	w.kv("QUERY_STRING", q.rawQuery)
	if r.RequestURI != "" {
		w.kv("REQUEST_URI", r.RequestURI)
	} else {
		w.kv("REQUEST_URI", r.URL.RequestURI())
	}
	w.kv("SCRIPT_NAME", s.Name)
	if s.PathInfo != "" {
		w.kv("PATH_INFO", s.PathInfo)
		b.WriteString("PATH_TRANSLATED=")
		b.WriteString(st.docRoot)
		b.WriteString(s.PathInfo)
		w.mark()
	}

	// Variables a FastCGI front end adds (REMOTE_USER, its own params).
	if gw != nil {
		for _, e := range gw.Env {
			if st.gatewayEntryOK(e) {
				w.entry(e)
			}
		}
	}

	// After an internal redirect the whole previous environment is passed
	// on with a REDIRECT_ prefix, plus the status and URL it ended with.
	if q.redirecting {
		for _, e := range q.prevEnv {
			name, _, _ := strings.Cut(e, "=")
			switch name {
			case "STATUS", "URL", "QUERY_STRING":
				continue // replaced below, as Apache's apr_table_setn does
			}
			b.WriteString("REDIRECT_")
			w.entry(e)
		}
		w.entry("REDIRECT_STATUS=200")
		w.kv("REDIRECT_URL", q.prevURL)
		w.kv("REDIRECT_QUERY_STRING", q.prevQuery)
	}
}

type headerField struct {
	name   string
	values []string
}

// Kinds of request headers that do not simply become HTTP_*.
const (
	hdrOther = iota
	hdrContentType
	hdrSkip
	hdrAuth
	hdrTE
)

// chunkedValue is HTTP_TRANSFER_ENCODING for a body of unknown length.
var chunkedValue = []string{"chunked"}

// headerKind classifies a header name; canonical names (all that net/http
// produces for valid names) are matched without folding case.
func headerKind(k string) int {
	switch k {
	case "Content-Type":
		return hdrContentType
	case "Content-Length", "Host", "Proxy":
		return hdrSkip
	case "Transfer-Encoding":
		return hdrTE
	case "Authorization", "Proxy-Authorization":
		return hdrAuth
	}
	if k == textproto.CanonicalMIMEHeaderKey(k) {
		return hdrOther
	}
	return headerKind(textproto.CanonicalMIMEHeaderKey(k))
}

// writeHTTPName writes HTTP_ and the header name upper-cased with '-'
// turned into '_', then '='.
func writeHTTPName(b *strings.Builder, k string) {
	b.WriteString("HTTP_")
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	b.WriteByte('=')
}

// validEnvHeaderName reports whether Apache turns header name k into an
// HTTP_ variable: only letters, digits and '-' qualify.
func validEnvHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// splitHost splits a Host header into host and port. IPv6 literals keep
// their brackets, as in Apache's SERVER_NAME.
func splitHost(hostport string) (host, port string) {
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return hostport, ""
		}
		host = hostport[:end+1]
		if rest := hostport[end+1:]; strings.HasPrefix(rest, ":") {
			port = rest[1:]
		}
		return host, port
	}
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		return hostport[:i], hostport[i+1:]
	}
	return hostport, ""
}

// writeServerName writes a Host name the way Apache stores it: lower case,
// without a trailing dot.
func writeServerName(b *strings.Builder, host string) {
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
}

// localAddr returns the server side of the connection, if known.
func localAddr(ctx context.Context) (netip.AddrPort, bool) {
	switch a := ctx.Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.Addr().IsValid()
	case net.Addr:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	return netip.AddrPort{}, false
}

// hasEnvName reports whether env has an entry called name.
func hasEnvName(env []string, name string) bool {
	for _, e := range env {
		if len(e) > len(name) && e[len(name)] == '=' && strings.HasPrefix(e, name) {
			return true
		}
	}
	return false
}

// removeEnvName deletes every entry called name, in place.
func removeEnvName(env []string, name string) []string {
	return slices.DeleteFunc(env, func(e string) bool {
		return len(e) > len(name) && e[len(name)] == '=' && strings.HasPrefix(e, name)
	})
}

// envName turns a configured variable name into one a process can carry,
// as Apache's ap_create_environment does: a leading digit and every
// character that is not a letter or digit become '_'.
func envName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') || i == 0 && '0' <= c && c <= '9' {
			b[i] = '_'
		}
	}
	return string(b)
}

// cgiNames are the variables the handler may set itself. A PassEnv
// variable of one of these names never reaches the script when the request
// sets it; the prefixes cover the HTTP_* and REDIRECT_* families.
var cgiNames = map[string]bool{
	"CONTENT_TYPE": true, "CONTENT_LENGTH": true, "HTTPS": true,
	"SERVER_SIGNATURE": true, "SERVER_SOFTWARE": true, "SERVER_NAME": true,
	"SERVER_ADDR": true, "SERVER_PORT": true, "REMOTE_ADDR": true,
	"DOCUMENT_ROOT": true, "REQUEST_SCHEME": true, "CONTEXT_PREFIX": true,
	"CONTEXT_DOCUMENT_ROOT": true, "SERVER_ADMIN": true, "SCRIPT_FILENAME": true,
	"REMOTE_PORT": true, "GATEWAY_INTERFACE": true, "SERVER_PROTOCOL": true,
	"REQUEST_METHOD": true, "QUERY_STRING": true, "REQUEST_URI": true,
	"SCRIPT_NAME": true, "PATH_INFO": true, "PATH_TRANSLATED": true,
}

func mayBeCGIName(name string) bool {
	return cgiNames[name] || strings.HasPrefix(name, "HTTP_") || strings.HasPrefix(name, "REDIRECT_")
}

// serverEnv returns the entries of the server's own environment a script
// may see: PATH (Apache's default when unset), LD_LIBRARY_PATH and TZ when
// set, then the pass names that are set. HTTP_PROXY is never passed.
func serverEnv(pass []string) (entries, names []string) {
	seen := map[string]bool{}
	add := func(name, value string) {
		n := envName(name)
		if n == "" || seen[n] || strings.EqualFold(n, "HTTP_PROXY") {
			return
		}
		seen[n] = true
		entries = append(entries, n+"="+value)
		names = append(names, n)
	}
	if v, ok := os.LookupEnv("PATH"); ok {
		add("PATH", v)
	} else {
		add("PATH", defaultPath)
	}
	for _, name := range append([]string{"LD_LIBRARY_PATH", "TZ"}, pass...) {
		if v, ok := os.LookupEnv(name); ok {
			add(name, v)
		}
	}
	return entries, names
}

// parseSetEnv turns "NAME=value" settings into entries with clean names.
// A setting without '=' sets an empty value, like Apache's SetEnv NAME.
// HTTP_PROXY is never set.
func parseSetEnv(set []string) (entries, names []string) {
	for _, kv := range set {
		name, value, _ := strings.Cut(kv, "=")
		n := envName(name)
		if n == "" || strings.EqualFold(n, "HTTP_PROXY") {
			continue
		}
		if i := slices.Index(names, n); i >= 0 {
			entries = slices.Delete(entries, i, i+1)
			names = slices.Delete(names, i, i+1)
		}
		entries = append(entries, n+"="+value)
		names = append(names, n)
	}
	return entries, names
}

// IndexArgs returns the command-line words Apache's mod_cgi gives a script
// for an "indexed" query (RFC 3875 section 4.4): only when the raw query is
// not empty and contains no '=', whatever the method. The query is split
// on '+', each word is URL-decoded (an invalid escape is kept as is, and a
// decoded NUL ends the word, as in C) and shell metacharacters are escaped
// with a backslash exactly as ap_escape_shell_cmd does. Otherwise the
// result is nil.
func IndexArgs(rawQuery string) []string {
	if rawQuery == "" || strings.IndexByte(rawQuery, '=') >= 0 {
		return nil
	}
	n := strings.Count(rawQuery, "+") + 1
	if n > maxIndexArgs {
		n = maxIndexArgs
	}
	args := make([]string, 0, n)
	for word := range strings.SplitSeq(rawQuery, "+") {
		if len(args) == n {
			break
		}
		args = append(args, shellEscape(unescapeWord(word)))
	}
	return args
}

// unescapeWord decodes %XX escapes like ap_unescape_url: invalid escapes
// stay as they are, and the word ends at the first NUL.
func unescapeWord(w string) string {
	if strings.IndexByte(w, '%') < 0 {
		return w
	}
	b := make([]byte, 0, len(w))
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '%' && i+2 < len(w) && isHex(w[i+1]) && isHex(w[i+2]) {
			c = unhex(w[i+1])<<4 | unhex(w[i+2])
			i += 2
		}
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// shellMeta are the characters ap_escape_shell_cmd escapes on Unix (the
// T_ESCAPE_SHELL_CMD class of Apache's gen_test_char).
const shellMeta = "&;`'\"|*?~<>^()[]{}$\\\n"

// shellEscape puts a backslash before every shell metacharacter.
func shellEscape(w string) string {
	if !strings.ContainsAny(w, shellMeta) {
		return w
	}
	var b strings.Builder
	b.Grow(2 * len(w))
	for i := 0; i < len(w); i++ {
		if strings.IndexByte(shellMeta, w[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	return b.String()
}
