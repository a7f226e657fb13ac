package main

// TestApacheDifferential sends the same requests to Apache httpd + mod_cgi
// (the reference, COMPAT.md) and to warmcgi, both serving testdata/cgi-bin,
// and reports every difference in status line, headers and body.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// diffRequest is one request of the table. Target is the request-target
// (path and query, sent as is); Header lines are sent in order, so
// duplicates stay duplicates.
type diffRequest struct {
	name    string
	method  string
	target  string
	header  [][2]string
	body    []byte
	chunked bool // send body with Transfer-Encoding: chunked

	// apacheStatus is the status Apache must answer with; it guards the
	// reference itself (a misconfigured Apache would make every comparison
	// meaningless).
	apacheStatus int
	// serverBody marks responses whose body the server writes itself (error
	// pages, the 302 for an absolute Location). Their wording is server
	// specific, so only the status line and Location are compared, plus a
	// check that no script output leaks into them.
	serverBody bool
	// rawExact compares the whole response byte for byte (NPH: the server
	// must add nothing).
	rawExact bool
}

// knownDifference is a documented, accepted divergence from Apache. The
// test still runs the request and logs the difference; a difference in any
// field not listed is still an error.
type knownDifference struct {
	fields []string // "status", "header:Name", "body", "raw", "framing"
	compat int      // case number in COMPAT.md
	why    string
}

// knownDifferences is empty: every request in the table behaves as under
// Apache. (cwd was here until each worker thread got its own working
// directory.)
var knownDifferences = map[string]knownDifference{}

// Bytes sent as the uploaded file: binary, with CR/LF and a fake boundary.
var uploadFile = func() []byte {
	var b bytes.Buffer
	for i := 0; i < 3000; i++ {
		b.WriteByte(byte(i * 7))
	}
	b.WriteString("\r\n--not-the-boundary\r\n")
	return b.Bytes()
}()

func multipartBody() (contentType string, body []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.SetBoundary("----warmcgiDiffBoundary7MA4YWxkTrZu0gW"); err != nil {
		panic(err)
	}
	_ = w.WriteField("name", "Ann Example")
	_ = w.WriteField("comment", "multi\r\nline ü")
	_ = w.WriteField("tag", "a")
	_ = w.WriteField("tag", "b")
	fw, _ := w.CreateFormFile("upload", "photo.jpg")
	_, _ = fw.Write(uploadFile)
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

func differentialTable() []diffRequest {
	const form = "application/x-www-form-urlencoded"
	mpType, mpBody := multipartBody()
	binBody := bytes.Repeat([]byte{0, 1, 2, 0xff, '\r', '\n'}, 700)
	return []diffRequest{
		{name: "hello", method: "GET", target: "/cgi-bin/hello.py", apacheStatus: 200},
		{name: "shell script", method: "GET", target: "/cgi-bin/hello.sh?x=1", apacheStatus: 200},
		{name: "perl script", method: "GET", target: "/cgi-bin/hello.pl", apacheStatus: 200},
		{name: "shebang with -u", method: "GET", target: "/cgi-bin/unbuffered.py", apacheStatus: 200},
		{name: "shebang with -OO", method: "GET", target: "/cgi-bin/optimized.py", apacheStatus: 200},
		{name: "no shebang", method: "GET", target: "/cgi-bin/noshebang.py", apacheStatus: 500},
		{name: "python 2 shebang", method: "GET", target: "/cgi-bin/py2.py", apacheStatus: 500},
		{name: "hello_head", method: "HEAD", target: "/cgi-bin/hello.py", apacheStatus: 200},
		{name: "env", method: "GET", target: "/cgi-bin/env.py", apacheStatus: 200},
		{name: "env_query", method: "GET", target: "/cgi-bin/env.py?a=1&b=two+words&c=%C3%A9", apacheStatus: 200},
		{name: "env_path_info", method: "GET", target: "/cgi-bin/env.py/extra/path?x=1", apacheStatus: 200},
		{name: "env_post", method: "POST", target: "/cgi-bin/env.py?q=1",
			header: [][2]string{{"Content-Type", form}}, body: []byte("a=1&b=2"), apacheStatus: 200},
		// Repeated headers: Apache merges them with ", ", Cookie included.
		{name: "env_dup_cookie", method: "GET", target: "/cgi-bin/env.py", apacheStatus: 200,
			header: [][2]string{{"Cookie", "a=1"}, {"Cookie", "b=2"}, {"X-Dup", "one"}, {"X-Dup", "two"}}},
		// httpoxy: the Proxy header never becomes HTTP_PROXY.
		{name: "env_proxy", method: "GET", target: "/cgi-bin/env.py", apacheStatus: 200,
			header: [][2]string{{"Proxy", "http://proxy.invalid:3128"}}},
		// Authorization is hidden from scripts (no CGIPassAuth).
		{name: "env_authorization", method: "GET", target: "/cgi-bin/env.py", apacheStatus: 200,
			header: [][2]string{{"Authorization", "Basic dXNlcjpzZWNyZXQ="}}},
		// Names with characters outside [A-Za-z0-9-] are dropped.
		{name: "env_underscore", method: "GET", target: "/cgi-bin/env.py", apacheStatus: 200,
			header: [][2]string{{"X_Under", "sneaky"}, {"X-Over", "fine"}}},
		// State a script leaves in its thread or interpreter: an event
		// loop (closed), the collector's settings, the digit limit,
		// logger levels, hooks, HTTPS context and urllib opener.
		{name: "asyncio_loop", method: "GET", target: "/cgi-bin/asyncio_loop.py", apacheStatus: 200},
		{name: "gc_knobs", method: "GET", target: "/cgi-bin/gc_knobs.py", apacheStatus: 200},
		{name: "logging_state", method: "GET", target: "/cgi-bin/logging_state.py", apacheStatus: 200},
		{name: "tls_opener", method: "GET", target: "/cgi-bin/tls_opener.py", apacheStatus: 200},
		// A thread pool left open ends with the script, after its work.
		{name: "executor_left_open", method: "GET", target: "/cgi-bin/executor_left_open.py", apacheStatus: 200},
		{name: "argv", method: "GET", target: "/cgi-bin/argv.py", apacheStatus: 200},
		{name: "argv_isindex", method: "GET", target: "/cgi-bin/argv.py?foo%3Bbar+x%26y", apacheStatus: 200},
		{name: "argv_isindex_post", method: "POST", target: "/cgi-bin/argv.py?one+two",
			header: [][2]string{{"Content-Type", form}}, body: []byte("a=b"), apacheStatus: 200},
		{name: "argv_query_eq", method: "GET", target: "/cgi-bin/argv.py?a=b+c", apacheStatus: 200},
		{name: "cwd", method: "GET", target: "/cgi-bin/cwd.py", apacheStatus: 200},
		{name: "form_get", method: "GET", target: "/cgi-bin/form.py?name=Ann&tag=x&tag=y&empty=", apacheStatus: 200},
		{name: "form_post", method: "POST", target: "/cgi-bin/form.py",
			header: [][2]string{{"Content-Type", form}},
			body:   []byte("name=J%C3%BCrgen&comment=a%26b+c&tag=1&tag=2"), apacheStatus: 200},
		{name: "form_multipart", method: "POST", target: "/cgi-bin/form.py",
			header: [][2]string{{"Content-Type", mpType}}, body: mpBody, apacheStatus: 200},
		{name: "stdin_post", method: "POST", target: "/cgi-bin/stdin.py",
			header: [][2]string{{"Content-Type", "application/octet-stream"}}, body: binBody, apacheStatus: 200},
		{name: "stdin_get", method: "GET", target: "/cgi-bin/stdin.py", apacheStatus: 200},
		{name: "stdin_read_all", method: "POST", target: "/cgi-bin/stdin.py?read=all",
			header: [][2]string{{"Content-Type", "application/octet-stream"}}, body: binBody, apacheStatus: 200},
		{name: "binary", method: "GET", target: "/cgi-bin/binary.py", apacheStatus: 200},
		{name: "big", method: "GET", target: "/cgi-bin/big.py", apacheStatus: 200},
		{name: "slow", method: "GET", target: "/cgi-bin/slow.py", apacheStatus: 200},
		{name: "swap_stdout", method: "GET", target: "/cgi-bin/swap_stdout.py", apacheStatus: 200},
		{name: "redirect_local", method: "GET", target: "/cgi-bin/redirect_local.py?orig=1", apacheStatus: 200},
		// The internal redirect is a GET without the body.
		{name: "redirect_local_post", method: "POST", target: "/cgi-bin/redirect_local.py",
			header: [][2]string{{"Content-Type", form}}, body: []byte("dropped=yes"), apacheStatus: 200},
		{name: "redirect_abs", method: "GET", target: "/cgi-bin/redirect_abs.py", apacheStatus: 302, serverBody: true},
		{name: "redirect_303", method: "GET", target: "/cgi-bin/redirect_303.py", apacheStatus: 303},
		{name: "status", method: "GET", target: "/cgi-bin/status.py", apacheStatus: 404},
		{name: "status_custom", method: "GET", target: "/cgi-bin/status_custom.py", apacheStatus: 403},
		{name: "teapot", method: "GET", target: "/cgi-bin/teapot.py", apacheStatus: 418},
		{name: "cookies", method: "GET", target: "/cgi-bin/cookies.py", apacheStatus: 200},
		{name: "content_length", method: "GET", target: "/cgi-bin/content_length.py", apacheStatus: 200},
		// Apache 2.4.71 drops the script's Transfer-Encoding and sends its
		// output as the (re-framed) body; it does not answer 502.
		{name: "transfer_encoding", method: "GET", target: "/cgi-bin/transfer_encoding.py", apacheStatus: 200},
		{name: "exit3", method: "GET", target: "/cgi-bin/exit3.py", apacheStatus: 200},
		{name: "exit_call", method: "GET", target: "/cgi-bin/exit_call.py", apacheStatus: 200},
		{name: "exit_before_headers", method: "GET", target: "/cgi-bin/exit_before_headers.py", apacheStatus: 500, serverBody: true},
		{name: "raise_after", method: "GET", target: "/cgi-bin/raise_after.py", apacheStatus: 200},
		{name: "raise_before", method: "GET", target: "/cgi-bin/raise_before.py", apacheStatus: 500, serverBody: true},
		{name: "nocontenttype", method: "GET", target: "/cgi-bin/nocontenttype.py", apacheStatus: 200},
		{name: "malformed", method: "GET", target: "/cgi-bin/malformed.py", apacheStatus: 500, serverBody: true},
		{name: "noblank", method: "GET", target: "/cgi-bin/noblank.py", apacheStatus: 500, serverBody: true},
		{name: "helper_user", method: "GET", target: "/cgi-bin/helper_user.py", apacheStatus: 200},
		// A helper module is not executable, so requesting it is a 500.
		{name: "mylib_direct", method: "GET", target: "/cgi-bin/mylib.py", apacheStatus: 500, serverBody: true},
		{name: "config_ini", method: "GET", target: "/cgi-bin/config.ini", apacheStatus: 500, serverBody: true},
		{name: "missing", method: "GET", target: "/cgi-bin/missing.py", apacheStatus: 404, serverBody: true},
		{name: "stash_stdout", method: "GET", target: "/cgi-bin/stash_stdout.py?n=first", apacheStatus: 200},
		{name: "stash_stdout_again", method: "GET", target: "/cgi-bin/stash_stdout.py?n=second", apacheStatus: 200},
		{name: "environ_fs_one", method: "GET", target: "/cgi-bin/environ_fs.py?q=one", apacheStatus: 200},
		{name: "environ_fs_two", method: "GET", target: "/cgi-bin/environ_fs.py?q=two", apacheStatus: 200},
		{name: "environ_fs_none", method: "GET", target: "/cgi-bin/environ_fs.py", apacheStatus: 200},
		{name: "unicode", method: "GET", target: "/cgi-bin/unicode.py", apacheStatus: 200},
		{name: "latin1", method: "GET", target: "/cgi-bin/latin1.py", apacheStatus: 200},
		{name: "nph", method: "GET", target: "/cgi-bin/nph-hello.py", apacheStatus: 200, rawExact: true},
		{name: "mainguard", method: "GET", target: "/cgi-bin/mainguard.py", apacheStatus: 200},
	}
}

// rawResponse is one response as read off the wire.
type rawResponse struct {
	raw        []byte // everything the server sent
	statusLine string // "HTTP/1.1 418 I'm a teapot"
	code       int
	header     http.Header
	body       []byte // de-chunked
	trailing   []byte // bytes after the end of the response
}

// doRaw sends r to the server at baseURL over a fresh connection with
// "Connection: close" and reads the whole answer. Nothing is followed,
// decompressed or retried.
func doRaw(baseURL string, r diffRequest) (*rawResponse, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))

	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: warmcgi-difftest/1\r\n", r.method, r.target, u.Host)
	for _, h := range r.header {
		fmt.Fprintf(&req, "%s: %s\r\n", h[0], h[1])
	}
	switch {
	case r.chunked:
		req.WriteString("Transfer-Encoding: chunked\r\n")
	case r.body != nil:
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(r.body))
	}
	req.WriteString("Connection: close\r\n\r\n")
	if r.chunked {
		// Uneven chunks, so that no reader can rely on chunk boundaries.
		for rest := r.body; len(rest) > 0; {
			n := min(len(rest), 1000)
			fmt.Fprintf(&req, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		req.WriteString("0\r\n\r\n")
	} else {
		req.Write(r.body)
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(conn)
	if err != nil && len(raw) == 0 {
		return nil, err
	}
	return parseRaw(raw, r.method)
}

func parseRaw(raw []byte, method string) (*rawResponse, error) {
	resp := &rawResponse{raw: raw}
	line, _, ok := bytes.Cut(raw, []byte("\n"))
	if !ok {
		return resp, fmt.Errorf("no status line in %q", raw)
	}
	resp.statusLine = strings.TrimSuffix(string(line), "\r")
	br := bufio.NewReader(bytes.NewReader(raw))
	hr, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return resp, fmt.Errorf("unparsable response: %v\nraw: %q", err, clip(raw, 500))
	}
	resp.code = hr.StatusCode
	resp.header = hr.Header
	resp.body, err = io.ReadAll(hr.Body)
	if err != nil {
		return resp, fmt.Errorf("broken response body: %v\nraw: %q", err, clip(raw, 500))
	}
	resp.trailing, _ = io.ReadAll(br)
	return resp, nil
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// diffServer is what the normalisation needs to know about one server.
type diffServer struct {
	name    string // "apache" or "warmcgi"
	baseURL string
	host    string // "127.0.0.1:PORT"
	port    string
}

func newDiffServer(t testing.TB, name, baseURL string) diffServer {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	return diffServer{name: name, baseURL: baseURL, host: u.Host, port: u.Port()}
}

// droppedHeaders differ between any two servers or between two runs and say
// nothing about CGI handling. Content-Length and Transfer-Encoding are
// framing: the de-framed bodies are compared instead.
var droppedHeaders = []string{"Date", "Server", "Connection", "Keep-Alive", "Etag", "Last-Modified",
	"Accept-Ranges", "Content-Length", "Transfer-Encoding"}

// normHeader returns the comparable headers of resp: dropped headers
// removed, the server's own host:port replaced, repeated values joined with
// ", " (equivalent under RFC 9110 §5.3) except Set-Cookie, which is
// compared as a sorted multiset.
func normHeader(resp *rawResponse, s diffServer) map[string]string {
	out := map[string]string{}
	for k, vs := range resp.header {
		if slices.Contains(droppedHeaders, k) {
			continue
		}
		vs = slices.Clone(vs)
		for i := range vs {
			vs[i] = strings.ReplaceAll(vs[i], s.host, "127.0.0.1:<PORT>")
		}
		if k == "Set-Cookie" {
			sort.Strings(vs)
			out[k] = strings.Join(vs, "\n")
			continue
		}
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

// envLine matches a "KEY=value" line of env.py's output.
var envLine = regexp.MustCompile(`^((?:REDIRECT_)*)([A-Z][A-Z0-9_]*)=(.*)$`)

// volatileEnv are variables whose value legitimately differs between the
// two servers; their presence is still compared, their value is not.
var volatileEnv = map[string]string{
	"SERVER_SOFTWARE":  "each server names itself",
	"SERVER_SIGNATURE": "server-specific footer text (empty with ServerSignature Off)",
	"SERVER_ADMIN":     "Apache's placeholder \"[no address given]\" vs whatever warmcgi sets",
	"DOCUMENT_ROOT":    "Apache's is the test's empty temp dir; warmcgi has its own notion",
	"PATH":             "Apache is started with a minimal PATH, warmcgi with the test's environment",
	"REMOTE_PORT":      "the client's ephemeral port",
	// CONTEXT_DOCUMENT_ROOT is compared: under ScriptAlias it is the
	// script directory ("…/testdata/cgi-bin/"), the same for both.
}

// normBody makes s's body comparable: its host:port and port become
// placeholders, volatile environment values are replaced by <KEY>, and
// PATH_TRANSLATED is expressed relative to that server's DOCUMENT_ROOT.
func normBody(body []byte, s diffServer) []byte {
	body = bytes.ReplaceAll(body, []byte(s.host), []byte("127.0.0.1:<PORT>"))
	if !bytes.Contains(body, []byte("GATEWAY_INTERFACE=")) {
		return body // not an environment dump
	}
	lines := strings.Split(string(body), "\n")
	docRoot := ""
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "DOCUMENT_ROOT="); ok {
			docRoot = v
		}
	}
	for i, l := range lines {
		m := envLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		prefix, key, val := m[1], m[2], m[3]
		switch {
		case volatileEnv[key] != "":
			lines[i] = prefix + key + "=<" + key + ">"
		case key == "SERVER_PORT" && val == s.port:
			lines[i] = prefix + key + "=<PORT>"
		case key == "PATH_TRANSLATED" && docRoot != "" && strings.HasPrefix(val, docRoot):
			lines[i] = prefix + key + "=<DOCUMENT_ROOT>" + strings.TrimPrefix(val, docRoot)
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// leakMarkers must never appear in a server-written body: they are script
// output the server was supposed to discard, a traceback or a data file.
var leakMarkers = []string{"SCRIPT-BODY", "SECRET-INI-CONTENT", "Traceback", "marker 9b2d", "Hello, world"}

// mismatch is one field in which warmcgi's answer differs from Apache's.
type mismatch struct {
	field string // "status", "header:Name", "body", "raw", "framing"
	msg   string
}

// diffResponses lists every difference between Apache's answer a and
// warmcgi's answer w to r, after normalisation.
func diffResponses(r diffRequest, as diffServer, a *rawResponse, ws diffServer, w *rawResponse) []mismatch {
	var out []mismatch
	add := func(field, format string, args ...any) {
		out = append(out, mismatch{field, fmt.Sprintf(format, args...)})
	}

	if r.rawExact {
		an, wn := normBody(a.raw, as), normBody(w.raw, ws)
		if !bytes.Equal(an, wn) {
			add("raw", "the response must be the script's output, unchanged:\n%s", lineDiff(an, wn))
		}
		return out
	}

	if a.statusLine != w.statusLine {
		add("status", "apache:  %q\nwarmcgi: %q", a.statusLine, w.statusLine)
	}
	if len(w.trailing) > 0 {
		add("framing", "warmcgi sent %d bytes after the end of the response: %q",
			len(w.trailing), clip(w.trailing, 200))
	}

	ah, wh := normHeader(a, as), normHeader(w, ws)
	var keys []string
	for k := range ah {
		keys = append(keys, k)
	}
	for k := range wh {
		if _, ok := ah[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if r.serverBody && k != "Location" {
			continue // the error page's own headers (Content-Type etc.)
		}
		av, aok := ah[k]
		wv, wok := wh[k]
		switch {
		case aok && !wok:
			add("header:"+k, "apache:  %q\nwarmcgi: (absent)", av)
		case !aok && wok:
			add("header:"+k, "apache:  (absent)\nwarmcgi: %q", wv)
		case av != wv:
			add("header:"+k, "apache:  %q\nwarmcgi: %q", av, wv)
		}
	}

	if r.serverBody {
		for _, m := range leakMarkers {
			if bytes.Contains(w.body, []byte(m)) {
				add("body", "warmcgi's own %d page contains %q: %q", w.code, m, clip(w.body, 500))
			}
		}
		return out
	}
	ab, wb := normBody(a.body, as), normBody(w.body, ws)
	if !bytes.Equal(ab, wb) {
		add("body", "%s", lineDiff(ab, wb))
	}
	return out
}

// reportMismatches turns ms into test errors, except for the fields listed
// for r in knownDifferences, which are only logged; a known difference that
// did not occur is logged too, so stale entries get noticed.
func reportMismatches(t testing.TB, label string, r diffRequest, ms []mismatch) {
	t.Helper()
	known, isKnown := knownDifferences[r.name]
	seenKnown := false
	for _, m := range ms {
		if isKnown && slices.Contains(known.fields, m.field) {
			seenKnown = true
			t.Logf("%s: known difference (COMPAT case %d: %s) in %s:\n%s", label, known.compat, known.why, m.field, m.msg)
			continue
		}
		t.Errorf("%s: %s differs:\n%s", label, m.field, m.msg)
	}
	if isKnown && !seenKnown {
		t.Logf("%s: the known difference in %v (COMPAT case %d) did not occur; is the knownDifferences entry stale?",
			label, known.fields, known.compat)
	}
}

// compareResponses reports every difference between Apache's answer a and
// warmcgi's answer w to r.
func compareResponses(t testing.TB, label string, r diffRequest, as diffServer, a *rawResponse, ws diffServer, w *rawResponse) {
	t.Helper()
	reportMismatches(t, label, r, diffResponses(r, as, a, ws, w))
}

// lineDiff renders the difference between Apache's body a and warmcgi's
// body w: a line diff for text, sizes and the first differing offset for
// large or binary bodies.
func lineDiff(a, w []byte) string {
	const maxLines = 2000
	al, wl := splitLines(a), splitLines(w)
	if len(al) > maxLines || len(wl) > maxLines || !isText(a) || !isText(w) {
		i := 0
		for i < len(a) && i < len(w) && a[i] == w[i] {
			i++
		}
		return fmt.Sprintf("apache: %d bytes (sha256 %x), warmcgi: %d bytes (sha256 %x); first difference at byte %d:\n"+
			"apache:  %q\nwarmcgi: %q",
			len(a), sha256.Sum256(a), len(w), sha256.Sum256(w), i,
			clip(a[min(i, len(a)):], 80), clip(w[min(i, len(w)):], 80))
	}
	// Longest common subsequence, then walk it: "-" only in Apache's
	// answer, "+" only in warmcgi's.
	n, m := len(al), len(wl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == wl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	b.WriteString("--- apache\n+++ warmcgi\n")
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == wl[j]:
			b.WriteString("  " + quoteLine(al[i]))
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			b.WriteString("+ " + quoteLine(wl[j]))
			j++
		default:
			b.WriteString("- " + quoteLine(al[i]))
			i++
		}
	}
	return b.String()
}

// splitLines splits b after each newline; a final line without one is
// kept, an empty remainder is not.
func splitLines(b []byte) []string {
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func quoteLine(l string) string {
	s := strings.TrimSuffix(l, "\n")
	if !strings.HasSuffix(l, "\n") {
		s += " (no newline at end)"
	}
	if strings.ContainsAny(s, "\r\x00") {
		s = strconv.Quote(s)
	}
	return s + "\n"
}

func isText(b []byte) bool {
	return !bytes.ContainsRune(b, 0) && strings.ToValidUTF8(string(b), "\ufffd") == string(b)
}

func TestApacheDifferential(t *testing.T) { apacheDifferential(t) }

// apacheDifferential compares warmcgi, started with flags, with Apache.
func apacheDifferential(t *testing.T, flags ...string) {
	if testing.Short() {
		t.Skip("starts Apache and warmcgi; skipped with -short")
	}
	dir := sharedCGIBin(t)
	apacheURL, apacheLog := startApache(t, dir)
	warmURL, warmLogs := startWarmcgi(t, dir, flags...)
	as := newDiffServer(t, "apache", apacheURL)
	ws := newDiffServer(t, "warmcgi", warmURL)

	table := differentialTable()
	want := make(map[string]*rawResponse, len(table))
	for _, r := range table {
		resp, err := doRaw(apacheURL, r)
		if err != nil {
			t.Errorf("apache, %s: %v", r.name, err)
			continue
		}
		if resp.code != r.apacheStatus {
			t.Errorf("apache, %s: status %q, the table expects %d\nbody: %q",
				r.name, resp.statusLine, r.apacheStatus, clip(resp.body, 500))
		}
		want[r.name] = resp
	}
	if t.Failed() {
		t.Fatalf("the reference server does not answer as the table assumes; error log:\n%s", apacheLog())
	}

	// Three sequential passes: state left over by one request (streams,
	// environ, sys.argv, modules) shows up from the second pass on.
	for pass := 1; pass <= 3; pass++ {
		t.Run(fmt.Sprintf("pass%d", pass), func(t *testing.T) {
			for _, r := range table {
				t.Run(r.name, func(t *testing.T) {
					got, err := doRaw(warmURL, r)
					if err != nil {
						t.Fatalf("warmcgi: %v", err)
					}
					compareResponses(t, r.name, r, as, want[r.name], ws, got)
				})
			}
		})
	}

	// The same table from 8 clients at once. A difference is reported once
	// per request and field, with the number of clients that saw it.
	t.Run("concurrent", func(t *testing.T) {
		const clients = 8
		type seen struct {
			first   mismatch
			clients int
		}
		var (
			mu      sync.Mutex
			results = map[string]*seen{}
			wg      sync.WaitGroup
		)
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each client walks the table from a different start.
				for k := range table {
					r := table[(k+c*len(table)/clients)%len(table)]
					var ms []mismatch
					if got, err := doRaw(warmURL, r); err != nil {
						ms = []mismatch{{"request", err.Error()}}
					} else {
						ms = diffResponses(r, as, want[r.name], ws, got)
					}
					mu.Lock()
					for _, m := range ms {
						key := r.name + "\x00" + m.field
						if results[key] == nil {
							results[key] = &seen{first: m}
						}
						results[key].clients++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		keys := slices.Sorted(maps.Keys(results))
		for _, r := range table {
			var ms []mismatch
			for _, key := range keys {
				if sn := results[key]; strings.HasPrefix(key, r.name+"\x00") {
					m := sn.first
					m.msg = fmt.Sprintf("(seen by %d of %d clients)\n%s", sn.clients, clients, m.msg)
					ms = append(ms, m)
				}
			}
			if len(ms) > 0 {
				reportMismatches(t, r.name, r, ms)
			}
		}
	})

	// Each request in this phase carries its own value: a stream captured
	// at import time (stashmod) must still deliver to the right client.
	t.Run("stash_stdout_distinct", func(t *testing.T) {
		const clients, rounds = 8, 5
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					q := fmt.Sprintf("n=c%dr%d", c, i)
					r := diffRequest{name: "stash_stdout", method: "GET", target: "/cgi-bin/stash_stdout.py?" + q}
					got, err := doRaw(warmURL, r)
					if err != nil {
						t.Errorf("%s: %v", q, err)
						continue
					}
					if body := "stashed stream, query " + q + "\n"; got.code != 200 || string(got.body) != body {
						t.Errorf("%s: got %q %q, want 200 %q", q, got.statusLine, got.body, body)
					}
				}
			}()
		}
		wg.Wait()
	})

	// Tracebacks go to the log, never to the client.
	t.Run("tracebacks_logged", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		markers := []string{"ValueError", "raise_after marker 5e1c", "raise_before marker 9b2d"}
		if missing := waitForLog(ctx, apacheLog, markers...); len(missing) > 0 {
			t.Errorf("apache error log lacks %q:\n%s", missing, apacheLog())
		}
		if missing := waitForLog(ctx, warmLogs, markers...); len(missing) > 0 {
			t.Errorf("warmcgi log lacks %q:\n%s", missing, warmLogs())
		}
	})
}

// TestApacheChunkedRequestBody (COMPAT 19): a chunked request body reaches
// the script as under Apache, in every mode: no CONTENT_LENGTH,
// HTTP_TRANSFER_ENCODING=chunked, the de-chunked body on stdin up to EOF
// (a script that reads CONTENT_LENGTH bytes reads nothing, under both). A
// body past 64 KiB reaches an embedded script while it arrives, and one
// over --max-body is answered with 413 (Apache's LimitRequestBody does the
// same when the script has already started: checked by hand, Apache
// 2.4.71 answers 413 and logs AH01225).
func TestApacheChunkedRequestBody(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache and warmcgi; skipped with -short")
	}
	dir := sharedCGIBin(t)
	apacheURL, _ := startApache(t, dir)
	as := newDiffServer(t, "apache", apacheURL)
	post := func(target string, body []byte) diffRequest {
		return diffRequest{name: "chunked", method: "POST", target: target, chunked: true, body: body,
			header: [][2]string{{"Content-Type", "application/octet-stream"}}}
	}
	small := bytes.Repeat([]byte("chunk-data\x00\xff\r\n"), 500)
	large := bytes.Repeat([]byte("chunk-data\x00\xff\r\n"), 20_000) // streamed: over 64 KiB
	requests := map[string]diffRequest{
		"content_length": post("/cgi-bin/stdin.py", small),
		"read_all":       post("/cgi-bin/stdin.py?read=all", small),
		"read_all_large": post("/cgi-bin/stdin.py?read=all", large),
		"empty":          post("/cgi-bin/stdin.py?read=all", []byte{}),
	}
	want := map[string]*rawResponse{}
	for name, r := range requests {
		a, err := doRaw(apacheURL, r)
		if err != nil {
			t.Fatal(err)
		}
		if a.code != 200 || !bytes.Contains(a.body, []byte("CONTENT_LENGTH=\nHTTP_TRANSFER_ENCODING=chunked\n")) {
			t.Fatalf("apache, %s: %s\n%s", name, a.statusLine, a.body)
		}
		want[name] = a
	}
	for _, mode := range []string{"auto", "main", "process", "fork"} {
		t.Run(mode, func(t *testing.T) {
			warmURL, _ := startWarmcgi(t, dir, "--isolation", mode)
			ws := newDiffServer(t, "warmcgi", warmURL)
			for _, name := range slices.Sorted(maps.Keys(requests)) {
				w, err := doRaw(warmURL, requests[name])
				if err != nil {
					t.Fatal(err)
				}
				compareResponses(t, name, requests[name], as, want[name], ws, w)
			}
		})
	}
	t.Run("streamed", func(t *testing.T) { checkChunkedStreamed(t, dir) })
	t.Run("max_body", func(t *testing.T) {
		for _, mode := range []string{"auto", "process", "fork"} {
			warmURL, logs := startWarmcgi(t, dir, "--isolation", mode, "--max-body", "100KiB")
			for _, c := range []struct {
				size, status int
			}{{100 << 10, 200}, {100<<10 + 1, 413}, {300 << 10, 413}} {
				w, err := doRaw(warmURL, post("/cgi-bin/stdin.py?read=all", bytes.Repeat([]byte("m"), c.size)))
				if err != nil {
					t.Fatal(err)
				}
				if w.code != c.status || c.status == 200 && !bytes.Contains(w.body, []byte(fmt.Sprintf("read %d bytes", c.size))) {
					t.Errorf("%s, %d bytes over a 100 KiB limit: %s\n%s\n%s", mode, c.size, w.statusLine, w.body, logs())
				}
			}
		}
	})
}

// checkChunkedStreamed: an embedded script gets a chunked body while it
// arrives, as under Apache (whose mod_cgi answers only once the body is
// in, so only warmcgi's first line can come before the rest is sent).
func checkChunkedStreamed(t *testing.T, dir string) {
	for _, mode := range []string{"auto", "main"} {
		base, logs := startWarmcgi(t, dir, "--isolation", mode)
		u, _ := url.Parse(base)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "POST /cgi-bin/upload_progress.py HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n", u.Host)
		half := bytes.Repeat([]byte("a"), 100_000)
		fmt.Fprintf(conn, "%x\r\n%s\r\n", len(half), half)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no response while half the body was sent: %v\n%s", mode, err, logs())
		}
		rd := bufio.NewReader(resp.Body)
		if line, err := rd.ReadString('\n'); err != nil || line != "first 65536\n" {
			t.Fatalf("%s: first line %q, %v; want it before the rest of the body is sent\n%s", mode, line, err, logs())
		}
		fmt.Fprintf(conn, "%x\r\n%s\r\n0\r\n\r\n", len(half), half)
		if rest, _ := io.ReadAll(rd); string(rest) != "total 200000 of unknown\n" {
			t.Errorf("%s: rest %q", mode, rest)
		}
	}
}
