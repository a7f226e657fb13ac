package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// accessCase is one request of the access log tests and what the client
// got back.
type accessCase struct {
	name        string
	method, uri string
	body        string // request body, for POST
	referer, ua string
	raw         bool // sent on a raw connection: the response is not one net/http can read
	wantStatus  int
	script      string // SCRIPT_NAME, "" when none was found

	status    int // what the client got
	bodyBytes int
}

// accessCases are the requests both access log formats are checked with:
// plain, POST, not found, script failure, streamed, HEAD, NPH (taken-over
// connection), unusual reason phrase (also taken over), 414 and 413.
func accessCases() []*accessCase {
	ua := "Mozilla/5.0 (test) \"quoted\" \\ back"
	return []*accessCase{
		{name: "get", method: "GET", uri: "/cgi-bin/hello.py?x=1", referer: "http://example.test/from?a=b", ua: ua, wantStatus: 200, script: "/cgi-bin/hello.py"},
		{name: "post", method: "POST", uri: "/cgi-bin/form.py", body: "a=1&b=two", ua: "poster", wantStatus: 200, script: "/cgi-bin/form.py"},
		{name: "not found", method: "GET", uri: "/cgi-bin/missing.py", ua: "x", wantStatus: 404},
		{name: "script error", method: "GET", uri: "/cgi-bin/raise_before.py", ua: "x", wantStatus: 500, script: "/cgi-bin/raise_before.py"},
		{name: "streamed", method: "GET", uri: "/cgi-bin/slow.py", ua: "x", wantStatus: 200, script: "/cgi-bin/slow.py"},
		{name: "head", method: "HEAD", uri: "/cgi-bin/hello.py", ua: "x", wantStatus: 200, script: "/cgi-bin/hello.py"},
		{name: "nph", method: "GET", uri: "/cgi-bin/nph-hello.py", ua: "raw", referer: "http://r.test/", raw: true, wantStatus: 200, script: "/cgi-bin/nph-hello.py"},
		{name: "reason phrase", method: "GET", uri: "/cgi-bin/status_custom.py", ua: "raw", raw: true, wantStatus: 403, script: "/cgi-bin/status_custom.py"},
		{name: "uri too long", method: "GET", uri: "/cgi-bin/hello.py?" + strings.Repeat("q", 1100), ua: "x", wantStatus: 414},
		{name: "body too large", method: "POST", uri: "/cgi-bin/hello.py?big", body: strings.Repeat("b", 4096), ua: "x", wantStatus: 413, script: "/cgi-bin/hello.py"},
	}
}

// accessLogArgs are the limits accessCases rely on.
var accessLogArgs = []string{"--max-url-length", "1024", "--max-body", "1KiB"}

// run sends the request and records what the client received.
func (c *accessCase) run(t *testing.T, base string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if c.raw {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nReferer: %s\r\n\r\n", c.method, c.uri, u.Host, c.ua, c.referer)
		out, err := io.ReadAll(conn)
		if err != nil {
			t.Fatalf("%s: reading the raw response: %v", c.name, err)
		}
		head, body, ok := strings.Cut(string(out), "\r\n\r\n")
		if !ok {
			t.Fatalf("%s: no header block in %q", c.name, out)
		}
		f := strings.Fields(head)
		if len(f) < 2 {
			t.Fatalf("%s: bad status line in %q", c.name, out)
		}
		c.status, _ = strconv.Atoi(f[1])
		c.bodyBytes = len(body)
	} else {
		req, err := http.NewRequest(c.method, base+strings.TrimPrefix(c.uri, "/"), strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.body == "" {
			req.Body, req.ContentLength = nil, 0
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("User-Agent", c.ua)
		if c.referer != "" {
			req.Header.Set("Referer", c.referer)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: reading the body: %v", c.name, err)
		}
		c.status, c.bodyBytes = resp.StatusCode, len(b)
	}
	if c.status != c.wantStatus {
		t.Fatalf("%s %s: status %d, want %d", c.method, c.uri, c.status, c.wantStatus)
	}
	if c.method == "HEAD" && c.bodyBytes != 0 {
		t.Fatalf("HEAD got %d body bytes", c.bodyBytes)
	}
}

// waitLines polls read until it returns at least n lines, and returns them.
func waitLines(t *testing.T, what string, read func() string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		text := read()
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if text == "" {
			lines = nil
		}
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d lines, want %d:\n%s", what, len(lines), n, text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readFile(t *testing.T, name string) func() string {
	return func() string {
		b, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(b)
	}
}

// combinedLine parses Apache's Combined Log Format.
var combinedLine = regexp.MustCompile(`^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$`)

// apacheEscape is what Apache's log escaping makes of the plain ASCII the
// cases send: quotes and backslashes get a backslash.
var apacheEscape = strings.NewReplacer(`"`, `\"`, `\`, `\\`).Replace

// TestAccessLogCombined: one Combined Log Format line per request, each
// field as Apache writes it, with the body bytes the client received.
func TestAccessLogCombined(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "access.log")
	base, logs := startWarmcgi(t, testdataCGIBin(t), append([]string{"--access-log", logFile}, accessLogArgs...)...)
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	cases := accessCases()
	for _, c := range cases {
		c.run(t, base)
	}
	after := time.Now().Add(time.Second)

	byRequestLine := map[string][]string{}
	for _, line := range waitLines(t, "access log", readFile(t, logFile), len(cases)) {
		m := combinedLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a Combined Log Format line: %q", line)
		}
		byRequestLine[m[5]] = m
	}
	for _, c := range cases {
		m := byRequestLine[c.method+" "+c.uri+" HTTP/1.1"]
		if m == nil {
			t.Errorf("%s: no line for %s %s in the log", c.name, c.method, c.uri)
			continue
		}
		wantBytes := "-"
		if c.bodyBytes > 0 {
			wantBytes = strconv.Itoa(c.bodyBytes)
		}
		wantReferer := "-"
		if c.referer != "" {
			wantReferer = apacheEscape(c.referer)
		}
		got := [...]string{m[1], m[2], m[3], m[6], m[7], m[8], m[9]}
		want := [...]string{"127.0.0.1", "-", "-", strconv.Itoa(c.status), wantBytes, wantReferer, apacheEscape(c.ua)}
		if got != want {
			t.Errorf("%s: host, ident, user, status, bytes, referer, agent = %q, want %q", c.name, got, want)
		}
		when, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[4])
		if err != nil || when.Before(before) || when.After(after) {
			t.Errorf("%s: time [%s] (%v): want the request's time, between %v and %v", c.name, m[4], err, before, after)
		}
	}
	// The access log records every request: the server log does not
	// repeat them (its record of each is Debug).
	if strings.Contains(logs(), "msg=request ") {
		t.Errorf("the server log repeats the access log's requests:\n%s", logs())
	}
}

// jsonAccessLine is a line of --access-log-format json.
type jsonAccessLine struct {
	Time       time.Time `json:"time"`
	RequestID  string    `json:"request_id"`
	RemoteAddr string    `json:"remote_addr"`
	Method     string    `json:"method"`
	URI        string    `json:"uri"`
	Proto      string    `json:"proto"`
	Host       string    `json:"host"`
	Status     int       `json:"status"`
	Bytes      int       `json:"bytes"`
	DurationMS float64   `json:"duration_ms"`
	Script     string    `json:"script"`
	TimedOut   bool      `json:"timed_out"`
	Referer    string    `json:"referer"`
	UserAgent  string    `json:"user_agent"`
}

func parseJSONLines(t *testing.T, lines []string) []jsonAccessLine {
	t.Helper()
	var out []jsonAccessLine
	for _, line := range lines {
		var l jsonAccessLine
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

// TestAccessLogJSON: the JSON format has the same facts as the combined
// one, plus a unique request id per request, the script and the duration.
func TestAccessLogJSON(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "access.log")
	base, _ := startWarmcgi(t, testdataCGIBin(t),
		append([]string{"--access-log", logFile, "--access-log-format", "json"}, accessLogArgs...)...)
	u, _ := url.Parse(base)
	cases := accessCases()
	for _, c := range cases {
		c.run(t, base)
	}
	byURI := map[string]jsonAccessLine{}
	ids := map[string]bool{}
	for _, l := range parseJSONLines(t, waitLines(t, "access log", readFile(t, logFile), len(cases))) {
		byURI[l.Method+" "+l.URI] = l
		if l.RequestID == "" || ids[l.RequestID] {
			t.Errorf("request id %q is empty or not unique", l.RequestID)
		}
		ids[l.RequestID] = true
	}
	for _, c := range cases {
		l, ok := byURI[c.method+" "+c.uri]
		if !ok {
			t.Errorf("%s: no line for %s %s", c.name, c.method, c.uri)
			continue
		}
		want := jsonAccessLine{Time: l.Time, RequestID: l.RequestID, RemoteAddr: "127.0.0.1", Method: c.method, URI: c.uri,
			Proto: "HTTP/1.1", Host: u.Host, Status: c.status, Bytes: c.bodyBytes, DurationMS: l.DurationMS,
			Script: c.script, Referer: c.referer, UserAgent: c.ua}
		if l != want {
			t.Errorf("%s: logged\n%+v\nwant\n%+v", c.name, l, want)
		}
		if l.DurationMS <= 0 || time.Since(l.Time) > time.Hour || time.Since(l.Time) < 0 {
			t.Errorf("%s: time %v, duration %vms: want the request's", c.name, l.Time, l.DurationMS)
		}
	}
}

// TestAccessLogStdout: "--access-log -" writes to the server's standard
// output, which the server otherwise keeps scripts away from.
func TestAccessLogStdout(t *testing.T) {
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--access-log", "-")
	c := &accessCase{name: "get", method: "GET", uri: "/cgi-bin/hello.py", ua: "stdout-test", wantStatus: 200}
	c.run(t, p.url)
	lines := waitLines(t, "standard output", p.stdout.String, 1)
	m := combinedLine.FindStringSubmatch(lines[0])
	if len(lines) != 1 || m == nil || m[5] != "GET /cgi-bin/hello.py HTTP/1.1" || m[7] != strconv.Itoa(c.bodyBytes) || m[9] != "stdout-test" {
		t.Errorf("standard output: %q; want one access log line for the request", lines)
	}
}

// TestAccessLogTimeoutAndOverload: a request refused because the queue is
// full (503) and one whose script runs past --timeout (504) are logged
// too, the timeout marked as such.
func TestAccessLogTimeoutAndOverload(t *testing.T) {
	tmp := t.TempDir()
	// The scripts may run as www-data: let them reach the marker file.
	for dir, mode := range map[string]os.FileMode{filepath.Dir(tmp): 0o755, tmp: 0o777} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		status   int
		timedOut bool
	}
	check := func(logFile string, n int, wants map[string]want) {
		t.Helper()
		for _, l := range parseJSONLines(t, waitLines(t, "access log", readFile(t, logFile), n)) {
			w, ok := wants[l.URI]
			if !ok {
				continue
			}
			delete(wants, l.URI)
			if l.Status != w.status || l.TimedOut != w.timedOut || l.Bytes == 0 {
				t.Errorf("%s: status %d, timed_out %v, %d bytes; want %d, %v and the page's bytes",
					l.URI, l.Status, l.TimedOut, l.Bytes, w.status, w.timedOut)
			}
		}
		if len(wants) > 0 {
			t.Errorf("not logged: %v", wants)
		}
	}

	t.Run("503", func(t *testing.T) {
		logFile := filepath.Join(tmp, "overload.log")
		p := startWarmcgiProcess(t, testdataCGIBin(t), "--access-log", logFile, "--access-log-format", "json",
			"--workers", "1", "--queue", "1", "--status", "127.0.0.1:0")
		status := statusURL(t, p.stderr.String)

		// The worker is taken by a request waiting for a marker; its
		// first line shows that it runs.
		marker := filepath.Join(tmp, "go-on")
		rd := holdProgress(t, p.url, marker)
		// A second request waits in the queue (the metrics say when) ...
		second := make(chan int, 1)
		go func() {
			code, _, _ := get(t, p.url+"cgi-bin/hello.py?queued")
			second <- code
		}()
		waitMetric(t, status, "warmcgi_queue_length", nil, 1)
		// ... so a third finds the queue full.
		if code, _, _ := get(t, p.url+"cgi-bin/hello.py?rejected"); code != http.StatusServiceUnavailable {
			t.Errorf("third request: status %d, want 503", code)
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if rest, err := io.ReadAll(rd); err != nil || string(rest) != "done\n" {
			t.Errorf("the request holding the worker: %q, %v", rest, err)
		}
		if code := <-second; code != 200 {
			t.Errorf("the queued request: status %d, want 200", code)
		}
		waitMetric(t, status, "warmcgi_queue_rejected_total", nil, 1)
		check(logFile, 3, map[string]want{
			"/cgi-bin/hello.py?rejected": {503, false},
			"/cgi-bin/hello.py?queued":   {200, false},
		})
	})

	t.Run("504", func(t *testing.T) {
		logFile := filepath.Join(tmp, "timeout.log")
		p := startWarmcgiProcess(t, testdataCGIBin(t), "--access-log", logFile, "--access-log-format", "json",
			"--timeout", "1s", "--status", "127.0.0.1:0")
		status := statusURL(t, p.stderr.String)
		if code, _, _ := get(t, p.url+"cgi-bin/spin.py"); code != http.StatusGatewayTimeout {
			t.Errorf("spin.py: status %d, want 504", code)
		}
		check(logFile, 1, map[string]want{"/cgi-bin/spin.py": {504, true}})
		waitMetric(t, status, "warmcgi_timeouts_total", map[string]string{"script": "/cgi-bin/spin.py"}, 1)
		waitMetric(t, status, "warmcgi_requests_total", map[string]string{"script": "/cgi-bin/spin.py", "code": "5xx"}, 1)
	})
}

// TestStderrRecordsCarryRequestID: each line a script writes to stderr is
// its own server log record, with the script and the request id that the
// access log gives the same request.
func TestStderrRecordsCarryRequestID(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "access.log")
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--access-log", logFile, "--access-log-format", "json")
	for _, u := range []string{"cgi-bin/hello.py", "cgi-bin/raise_before.py", "cgi-bin/hello.py"} {
		get(t, p.url+u)
	}
	var id string
	for _, l := range parseJSONLines(t, waitLines(t, "access log", readFile(t, logFile), 3)) {
		if l.URI == "/cgi-bin/raise_before.py" {
			id = l.RequestID
		}
	}
	if id == "" {
		t.Fatal("no request id for raise_before.py in the access log")
	}
	script := filepath.Join(testdataCGIBin(t), "raise_before.py")
	// The traceback's first and last lines, each a record of its own.
	want := []string{
		`level=WARN msg="Traceback (most recent call last):" script=` + script + ` request_id=` + id,
		`level=WARN msg="ValueError: raise_before marker 9b2d" script=` + script + ` request_id=` + id,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if missing := waitForLog(ctx, p.stderr.String, want...); len(missing) > 0 {
		t.Errorf("server log lacks the records\n%s\nlog:\n%s", strings.Join(missing, "\n"), p.stderr.String())
	}
	// Every record that names the script is about that request.
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, "script="+script) && !strings.Contains(line, "request_id="+id) {
			t.Errorf("record about raise_before.py without its request id %s: %s", id, line)
		}
	}
}

// TestAccessLogBadFlags: an unknown format or a file that cannot be opened
// is a usage error, reported before anything is served.
func TestAccessLogBadFlags(t *testing.T) {
	dir := testdataCGIBin(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--access-log", "-", "--access-log-format", "xml"}, "want combined or json"},
		{[]string{"--access-log", filepath.Join(t.TempDir(), "missing", "access.log")}, "no such file or directory"},
	} {
		args := append(append([]string{"serve", dir, "--listen", "127.0.0.1:0"}, privilegeArgs(dir, nil)...), tc.args...)
		out, err := exec.Command(warmcgiBin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errorsAs(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), tc.want) {
			t.Errorf("%q: %v\n%s\nwant exit status %d saying %q", tc.args, err, out, exitUsage, tc.want)
		}
	}
}
