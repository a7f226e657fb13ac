package observe

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

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

// TestAccessLogEscaping: what a client controls cannot break a line of
// either format: control characters, quotes, backslashes and non-ASCII
// bytes are escaped (Apache's way, or JSON's), invalid UTF-8 included.
func TestAccessLogEscaping(t *testing.T) {
	r, err := http.NewRequest("GET", "http://x/cgi-bin/a.py", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.RequestURI = "/cgi-bin/a.py?q=\"x\""
	r.Header.Set("User-Agent", "a\"b\\c\td\x01é\xff")
	r.Header.Set("Referer", "-")
	start := time.Date(2026, 11, 25, 13, 5, 9, 0, time.FixedZone("", 3600))
	info := &cgienv.RequestInfo{ID: "id-1", Start: start, Duration: 1500 * time.Microsecond,
		RemoteAddr: "2001:db8::1", ScriptName: "/cgi-bin/a.py", Status: 200, Bytes: 0}

	got := string(appendCombinedLine(nil, r, info))
	want := `2001:db8::1 - - [25/Nov/2026:13:05:09 +0100] "GET /cgi-bin/a.py?q=\"x\" HTTP/1.1" 200 - "-" "a\"b\\c\td\x01\xc3\xa9\xff"` + "\n"
	if got != want {
		t.Errorf("combined line\n%s\nwant\n%s", got, want)
	}

	line := appendJSONLine(nil, r, info)
	var l jsonAccessLine
	if err := json.Unmarshal(line, &l); err != nil {
		t.Fatalf("JSON line %s: %v", line, err)
	}
	if l.UserAgent != "a\"b\\c\td\x01é\uFFFD" || l.URI != r.RequestURI || l.DurationMS != 1.5 || l.Bytes != 0 ||
		!l.Time.Equal(start) || l.RequestID != "id-1" || strings.Count(string(line), "\n") != 1 {
		t.Errorf("JSON line %s decodes to %+v", line, l)
	}
}

// TestOpenAccessLog: no destination is no log; a file is created 0640
// and appended to, one line per request; an unknown format is refused.
func TestOpenAccessLog(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if a, err := OpenAccessLog("", "combined", nil, logger); a != nil || err != nil {
		t.Errorf("no destination: %v, %v; want nil, nil", a, err)
	}
	if _, err := OpenAccessLog("-", "xml", os.Stdout, logger); err == nil || !strings.Contains(err.Error(), "want combined or json") {
		t.Errorf("format xml: %v", err)
	}

	name := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(name, []byte("earlier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := OpenAccessLog(name, "json", nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "http://x/cgi-bin/a.py", nil)
	r.RequestURI = "/cgi-bin/a.py"
	a.Log(r, &cgienv.RequestInfo{ID: "one", Status: 200})
	a.Log(r, &cgienv.RequestInfo{ID: "two", Status: 404})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "earlier" {
		t.Fatalf("log file:\n%s\nwant the earlier line and two more", b)
	}
	for i, id := range []string{"one", "two"} {
		var l jsonAccessLine
		if err := json.Unmarshal([]byte(lines[i+1]), &l); err != nil || l.RequestID != id {
			t.Errorf("line %q: %+v, %v; want request id %s", lines[i+1], l, err, id)
		}
	}

	fresh := filepath.Join(t.TempDir(), "new.log")
	a, err = OpenAccessLog(fresh, "combined", nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm()&^0o640 != 0 {
		t.Errorf("new log file: %v, %v; want at most mode 0640", fi.Mode(), err)
	}
}

// TestAccessLogWriter: "-" with a writer that is not a file writes to it,
// and a failing write is logged once, not once per request.
func TestAccessLogWriter(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var out bytes.Buffer
	a, err := OpenAccessLog("-", "combined", &out, logger)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.RequestURI = "/"
	a.Log(r, &cgienv.RequestInfo{RemoteAddr: "192.0.2.1", Status: 404})
	if !strings.HasPrefix(out.String(), `192.0.2.1 - - [`) || !strings.HasSuffix(out.String(), `"GET / HTTP/1.1" 404 - "-" "-"`+"\n") {
		t.Errorf("combined line %q", out.String())
	}
	a.w = failingWriter{}
	for range 3 {
		a.Log(r, &cgienv.RequestInfo{Status: 200})
	}
	if n := strings.Count(logs.String(), "access log write failed"); n != 1 {
		t.Errorf("%d write failures logged, want 1:\n%s", n, logs.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

// TestHook: the hook feeds whichever of the log and the counters is on.
func TestHook(t *testing.T) {
	if Hook(nil, nil) != nil {
		t.Error("a hook with neither log nor counters")
	}
	var out bytes.Buffer
	a, _ := OpenAccessLog("-", "combined", &out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m := NewMetrics("/srv", "/cgi-bin/")
	r, _ := http.NewRequest("GET", "http://x/", nil)
	Hook(a, m)(r, &cgienv.RequestInfo{Script: "/srv/a.py", Status: 200})
	Hook(nil, m)(r, &cgienv.RequestInfo{Script: "/srv/a.py", Status: 200})
	Hook(a, nil)(r, &cgienv.RequestInfo{Script: "/srv/a.py", Status: 200})
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("%d access log lines, want 2", n)
	}
	if ss := m.script("/srv/a.py").snapshot(); ss.requests != 2 || ss.name != "/cgi-bin/a.py" {
		t.Errorf("counters %+v, want 2 requests of /cgi-bin/a.py", ss)
	}
}
