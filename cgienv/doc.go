// Package cgienv is the CGI/1.1 layer of warmcgi: it maps a request to a
// script file, builds the script's environment, hands both to a Runner and
// turns the script's output into an HTTP response. It does all of this the
// way Apache 2.4 mod_cgi does for a ScriptAlias directory, because that is
// what legacy scripts were written against; RFC 3875 is the specification
// and the deliberate differences from Apache are listed below.
//
// The package is pure Go (no cgo) and never runs a script itself: a Runner
// does (see runner.go), so the package is tested with fake runners.
//
// # Request flow
//
// Handler.ServeHTTP refuses a request-target longer than
// Handler.MaxURLLength (414, before anything else), resolves the path
// (Handler.Resolve), reads the request body up to Handler.MaxBody, builds the environment (Handler.BuildEnv) and
// the ISINDEX arguments (IndexArgs), calls Runner.Run, parses the output
// (ParseResponse) and writes the response: a document, a client redirect,
// a local redirect re-dispatched internally as GET (at most 10 deep), or
// for scripts whose name starts with "nph-" the raw output on the taken
// over connection. Runner errors give 503 with Retry-After: 1
// (ErrOverloaded), 504 (deadline exceeded), nothing (client gone) or 500.
//
// Mount the Handler directly on the server (or under a pattern that does
// not rewrite the path): http.ServeMux redirects paths with "." or ".."
// segments to their cleaned form, where Apache cleans them internally.
//
// # Meta-variables
//
// Every request gets exactly these variables, built from an empty base;
// nothing else of the server's environment reaches a script. "nhc" is the
// difference from Go's net/http/cgi.
//
//	Variable               Source                                   RFC 3875  nhc
//	HTTP_*                 each request header; name upper-cased,   4.1.18    nhc passes names with '_', joins
//	                       '-' to '_'; repeats joined with ", ";              cookies with "; ", passes
//	                       names with chars other than [A-Za-z0-9-]          Authorization
//	                       dropped; Proxy never; Authorization and
//	                       Proxy-Authorization only with
//	                       PassAuthorization
//	HTTP_HOST              r.Host (absolute-form URI host wins)     4.1.18    same
//	CONTENT_TYPE           Content-Type header (repeats joined)     4.1.3     nhc keeps only the first
//	CONTENT_LENGTH         length of the body read, iff the         4.1.2     nhc: only if > 0; refuses
//	                       request has one with a Content-Length              chunked bodies with 400
//	                       (even 0); a chunked (or HTTP/2 unknown-
//	                       length) body has none and gets
//	                       HTTP_TRANSFER_ENCODING=chunked, as under
//	                       Apache (not RFC 3875 4.2): the script
//	                       reads it to EOF; over 64 KiB, as it
//	                       arrives; over MaxBody, 413
//	HTTPS                  "on" for TLS requests (mod_ssl), or as   -         same
//	                       a trusted proxy's X-Forwarded-Proto says
//	SERVER_SIGNATURE       Handler.ServerSignature (default "")     -         absent
//	SERVER_SOFTWARE        Handler.ServerSoftware ("warmcgi")       4.1.17    "go"
//	SERVER_NAME            host of r.Host, lower-cased, no final    4.1.14    nhc keeps case and dot
//	                       dot, IPv6 in brackets; without Host:
//	                       Handler.ServerName, else the local IP;
//	                       a trusted proxy's X-Forwarded-Host wins
//	SERVER_ADDR            local IP (http.LocalAddrContextKey)      -         absent
//	SERVER_PORT            port of r.Host, else 80 (443 for TLS);   4.1.15    same
//	                       behind a trusted proxy: X-Forwarded-Port,
//	                       else the X-Forwarded-Host port, else the
//	                       forwarded scheme's default
//	REMOTE_ADDR            IP of r.RemoteAddr; behind a trusted     4.1.8     same
//	                       proxy, from X-Forwarded-For
//	REMOTE_PORT            port of r.RemoteAddr                     -         same
//	REMOTE_HOST            never (Apache: with HostnameLookups on)  4.1.9     nhc sets the IP
//	REMOTE_USER, AUTH_TYPE never: only a server that authenticated  4.1.11,   absent
//	                       sets them, and this one does not         4.1.1
//	DOCUMENT_ROOT          Handler.DocumentRoot (default Root)      -         absent
//	REQUEST_SCHEME         "http" or "https" (as HTTPS)             -         absent
//	CONTEXT_PREFIX         the mount prefix, e.g. "/cgi-bin/"       -         absent
//	CONTEXT_DOCUMENT_ROOT  Root + "/"                               -         absent
//	SERVER_ADMIN           Handler.ServerAdmin ("[no address        -         absent
//	                       given]", Apache's default)
//	SCRIPT_FILENAME        Root + the script's path, symbolic       -         same (Handler.Path)
//	                       links not resolved
//	GATEWAY_INTERFACE      "CGI/1.1"                                4.1.4     same
//	SERVER_PROTOCOL        r.Proto ("HTTP/1.0", "HTTP/2.0", ...)    4.1.16    always "HTTP/1.1"
//	REQUEST_METHOD         r.Method (GET after a local redirect)    4.1.12    same
//	QUERY_STRING           raw query, always set, maybe empty       4.1.7     same
//	REQUEST_URI            r.RequestURI as the client sent it, also -         re-encoded r.URL
//	                       after local redirects
//	SCRIPT_NAME            decoded, normalised path of the script   4.1.13    the mount root
//	PATH_INFO              decoded rest of the path, only if        4.1.5     always, not normalised
//	                       non-empty ("/" for a trailing slash)
//	PATH_TRANSLATED        DocumentRoot + PATH_INFO, only with      4.1.6     absent
//	                       PATH_INFO
//	PATH                   server's PATH, else Apache's default     -         other default
//	                       /usr/local/sbin:/usr/local/bin:/usr/sbin:
//	                       /usr/bin:/sbin:/bin
//	LD_LIBRARY_PATH, TZ    server's, when set                       -         LD_LIBRARY_PATH only
//	Handler.PassEnv        server's, when set; request variables    -         InheritEnv
//	                       of the same name win
//	Handler.SetEnv         as given; overrides everything           -         Env
//	REDIRECT_*             after a local redirect: every variable   -         absent (no internal
//	                       of the previous request, renamed, plus             redirect env)
//	                       REDIRECT_STATUS=200, REDIRECT_URL (the
//	                       previous decoded path) and
//	                       REDIRECT_QUERY_STRING; chains give
//	                       REDIRECT_REDIRECT_*
//
// # Trusted proxies
//
// Without Handler.TrustedProxies, X-Forwarded-For, -Proto, -Host and -Port
// are ordinary headers: HTTP_X_FORWARDED_* variables and nothing else.
// When the immediate peer (r.RemoteAddr) is in one of the trusted
// networks (IPv4-mapped addresses are unmapped first):
//
//   - REMOTE_ADDR: X-Forwarded-For, its repeated lines joined in order,
//     is read from the right; trusted addresses are skipped and the first
//     untrusted one is the client; when all are trusted, the left-most.
//     An entry that is not an IP address (ports and IPv6 brackets are
//     allowed and dropped) ends the walk, and the last address accepted
//     is used, the peer's if none: what lies left of it was not written
//     by a trusted proxy. The address is written in canonical form,
//     without a zone. REMOTE_PORT stays the peer's, as with Apache's
//     mod_remoteip.
//   - HTTPS and REQUEST_SCHEME: the X-Forwarded-Proto entry at the same
//     position from the right as the chosen X-Forwarded-For entry (the
//     value the same hop wrote); with fewer entries (a proxy that
//     overwrites the header), its left-most one; without
//     X-Forwarded-For, its right-most one. Only "http" and "https" (any
//     case) count; anything else leaves the connection's own scheme.
//   - SERVER_NAME and SERVER_PORT: the X-Forwarded-Host entry chosen the
//     same way, if it is a valid host (DNS name, IPv4, or IPv6 in
//     brackets, optional port); SERVER_PORT from the X-Forwarded-Port
//     entry (1-65535) if there is one, else the host's port, else 443 or
//     80 by the scheme. HTTP_HOST stays the Host header as received.
//   - The request id (RequestID, RequestInfo.ID, the "request_id" of log
//     records) is the X-Request-Id the proxy sent, when it is 1 to 128
//     visible ASCII characters without quotes or backslashes; otherwise,
//     and for every other peer, the handler makes one. Scripts are not
//     told the id.
//
// The HTTP_X_FORWARDED_* variables are passed unchanged either way. The
// proxies must set (append to or overwrite) X-Forwarded-For and
// X-Forwarded-Proto themselves, or a client could.
//
// PassEnv and SetEnv names are cleaned as Apache's ap_create_environment
// cleans them (a leading digit and every character that is not a letter or
// digit become '_'). HTTP_PROXY is never set, from any source.
//
// The command line (Request.Args) follows Apache's ISINDEX rule for every
// method: only for a non-empty raw query without '=', split on '+', each
// word URL-decoded and shell metacharacters escaped with a backslash
// (ap_escape_shell_cmd), at most 4094 words.
//
// # Gateways (FastCGI)
//
// Behind a FastCGI front end the connection is the front end's. A request
// whose context carries a Gateway (WithGateway) takes SERVER_NAME,
// SERVER_ADDR and SERVER_PORT from it instead of the Host header and the
// connection (a trusted proxy's X-Forwarded-Host and -Port still win), and
// gets the Gateway's extra variables, minus any the handler computes
// itself, the server's environment provides or SetEnv sets. The script is
// still resolved from the request path only.
//
// # Response parsing
//
// ParseResponse follows ap_scan_script_header_err: header lines end with LF
// or CRLF, every CR in a header line is dropped and a NUL ends it; a line
// without ':' or with an invalid name or a control character in the value
// is a 500 ("malformed header from script"), so is output without the
// blank line ("end of script output before headers"), a header line of
// more than 8189 bytes and more than 256 header lines. Status sets the code (C atoi) and, after "NNN ",
// the reason phrase. Repeated headers are merged with ", " except
// Set-Cookie. The script's Content-Length is ignored: the handler measures
// the body. A Location starting with "/" under status 200 is a local
// redirect; another Location under status 200 becomes a 302 with the
// server's own body (script body and Content-Type dropped, other headers
// kept); with another status the response passes through. Without a
// Content-Type the script file's MIME type is sent (text/x-python for .py,
// as Debian's Apache does; mime.TypeByExtension otherwise; none when
// unknown); an empty Content-Type sends none. Headers of scripts that
// redirected locally are kept in the final response, as Apache keeps
// err_headers_out. 204 and 304 responses have no body and no
// Content-Type. HEAD runs the script and sends the headers only.
//
// # Differences from Apache 2.4
//
// Measured against Apache 2.4.71 (Debian, mod_cgid, ScriptAlias) by sending
// the same requests to both and comparing status lines, headers and
// bodies (error pages included, which are Apache's, byte for byte). These
// are the differences left, all deliberate or imposed by net/http:
//
//   - Path segments of the script part that start with "." or are
//     "__pycache__", and names of editor backups, temporary, patch,
//     package-manager and bytecode files ("x.py~", "#x.py#", ".bak",
//     ".old", ".orig", ".rej", ".save", ".sav", ".swp", ".swo", ".tmp",
//     ".temp", ".pyc", ".pyo", ".dpkg-old", ".rpmnew" and the like, in any
//     case) give 404; Apache runs such files.
//   - A world-writable script, or a world-writable directory between
//     Root and the script, gives 500 unless AllowWorldWritable, as Apache
//     does only with suexec. Group-writable ones run. A backslash,
//     literal or %5C, anywhere in the path gives 404; Apache accepts %5C
//     in PATH_INFO. A symbolic link whose target is outside Root gives 404
//     unless FollowSymlinks; Apache's default follows it. Files that are
//     neither regular nor directories give 404; a directory that cannot
//     be searched gives 403.
//   - More than 256 header lines from a script give 500; Apache has no
//     such limit.
//   - MaxURLLength (8190 by default) limits the request-target; Apache's
//     LimitRequestLine (8190) limits the whole request line, method and
//     protocol included. Over the server's header limit, net/http answers
//     431 before the handler runs.
//   - Hop-by-hop response headers (Connection, Keep-Alive,
//     Proxy-Connection, TE, Trailer, Upgrade) are dropped (RFC 3875
//     section 6.3.4); Apache sends them.
//   - A Status below 200 or above 999 gives 500: net/http cannot send
//     other codes as a final status; Apache sends 1xx as final (600-999
//     are sent by both, and logged).
//   - net/http canonicalises header names (X-FOO becomes X-Foo) and trims
//     trailing white space of values; Apache keeps both. Trailing white
//     space of a reason phrase is dropped.
//   - A reason phrase net/http would not send (e.g. "418 Short and
//     stout") is sent by taking over the HTTP/1.x connection, with
//     Connection: close; over HTTP/2 the standard phrase is sent.
//   - Content-Length is always sent, for HEAD too (the length of the body
//     a GET would get); Apache sends it only when the whole output arrived
//     in one read, and chunks otherwise.
//   - SetEnv overrides request variables; in Apache the request's own
//     variables win. SetEnv and PassEnv never set HTTP_PROXY.
//   - Without a Host header SERVER_NAME is Handler.ServerName or the
//     local IP (Apache: its ServerName or the machine's name).
//   - A local redirect can only reach a script under the prefix; any other
//     target is a 404, since there is no static document root. Apache can
//     also serve files of its DocumentRoot.
//   - Last-Modified from a script is passed as is; Apache parses it and
//     may answer conditional requests with 304.
//   - NPH output is relayed, not sent raw, over HTTP/2 (no connection to
//     take over). A response cut short there (--timeout after it began)
//     ends with a reset stream instead of a closed connection.
//   - net/http answers an HTTP/1.0 request with an HTTP/1.0 status line;
//     Apache always writes HTTP/1.1.
//   - LC_CTYPE=C.UTF-8, which CPython adds to os.environ under Apache
//     (PEP 538 locale coercion in the C locale), is not added here: the
//     interpreter layer decides (COMPAT.md case 60).
package cgienv
