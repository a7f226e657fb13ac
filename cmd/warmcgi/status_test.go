package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var statusLine = regexp.MustCompile(`msg="status page" url=(\S+)`)

// statusURL returns the status listener's base URL from the server log.
func statusURL(t *testing.T, logs func() string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m := statusLine.FindStringSubmatch(logs()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status page URL in the log:\n%s", logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape reads /metrics over HTTP and parses it with Prometheus's own text
// parser.
func scrape(t *testing.T, status string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(status + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// metricValue returns the value of the sample of family name whose labels
// include labels (a counter's or gauge's value, a histogram's count), and
// whether there is one.
func metricValue(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// waitMetric scrapes until the sample has the value wanted. The server
// counts a request just after sending its response, so a scrape right
// after the response may miss it.
func waitMetric(t *testing.T, status, name string, labels map[string]string, want float64) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		families := scrape(t, status)
		got, ok := metricValue(families, name, labels)
		if ok && got == want {
			return families
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v (present: %v), want %v", name, labels, got, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStatusMetrics: /metrics parses as Prometheus text and counts the
// requests made, by script and status class; the status page shows them.
func TestStatusMetrics(t *testing.T) {
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--workers", "2", "--status", "127.0.0.1:0")
	status := statusURL(t, p.stderr.String)
	const hellos = 7
	for i := range hellos {
		if code, _, _ := get(t, fmt.Sprintf("%scgi-bin/hello.py?%d", p.url, i)); code != 200 {
			t.Fatalf("hello.py: status %d", code)
		}
	}
	for _, u := range []string{"cgi-bin/missing.py", "cgi-bin/raise_before.py", "cgi-bin/raise_before.py"} {
		get(t, p.url+u)
	}

	hello := map[string]string{"script": "/cgi-bin/hello.py"}
	families := waitMetric(t, status, "warmcgi_request_duration_seconds", map[string]string{"script": "/cgi-bin/raise_before.py"}, 2)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"warmcgi_requests_total", map[string]string{"script": "/cgi-bin/hello.py", "code": "2xx"}, hellos},
		{"warmcgi_request_duration_seconds", hello, hellos},
		{"warmcgi_requests_total", map[string]string{"script": "/cgi-bin/raise_before.py", "code": "5xx"}, 2},
		{"warmcgi_requests_total", map[string]string{"script": "-", "code": "4xx"}, 1},
		{"warmcgi_timeouts_total", hello, 0},
		{"warmcgi_script_reloads_total", hello, 0},
		{"warmcgi_requests_in_flight", nil, 0},
		{"warmcgi_queue_length", nil, 0},
		{"warmcgi_queue_rejected_total", nil, 0},
		{"warmcgi_workers", nil, 2},
		{"warmcgi_workers_busy", nil, 0},
		{"warmcgi_worker_replacements_total", nil, 0},
		{"warmcgi_ready", nil, 1},
	} {
		if got, ok := metricValue(families, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present: %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := metricValue(families, "warmcgi_requests_total", map[string]string{"script": "/cgi-bin/hello.py", "code": "5xx"}); ok {
		t.Errorf("a 5xx series for hello.py, which never failed")
	}
	// Each worker compiles a script once, and two workers shared 7 requests.
	if got, _ := metricValue(families, "warmcgi_script_compiles_total", hello); got < 1 || got > 2 {
		t.Errorf("warmcgi_script_compiles_total for hello.py = %v, want 1 or 2", got)
	}
	for _, std := range []string{"go_goroutines", "process_start_time_seconds", "process_resident_memory_bytes"} {
		if families[std] == nil {
			t.Errorf("standard metric %s missing", std)
		}
	}
	for name := range families {
		for _, m := range families[name].GetMetric() {
			for _, lp := range m.GetLabel() {
				if strings.Contains(lp.GetValue(), "?") {
					t.Errorf("%s has a label with a query string: %q", name, lp.GetValue())
				}
			}
		}
	}

	_, _, page := get(t, status)
	row := regexp.MustCompile(`(?m)^/cgi-bin/hello\.py +(\d+) +(\d+) +0 +0 +0 +0 +\S+ +\S+ +\d+ +0$`).FindStringSubmatch(page)
	if row == nil || row[1] != "7" || row[2] != "7" {
		t.Errorf("status page has no row for hello.py with 7 requests, 7 of them 2xx:\n%s", page)
	}
	for _, want := range []string{`(?m)^python +3\.`, `(?m)^workers +2 of 2 running, 0 busy`, `(?m)^state +ready$`, `(?m)^/cgi-bin/raise_before\.py +2 +0 +0 +0 +2 `} {
		if !regexp.MustCompile(want).MatchString(page) {
			t.Errorf("status page does not match %s:\n%s", want, page)
		}
	}
	for path, want := range map[string]string{"healthz": "ok\n", "readyz": "ready\n"} {
		if code, _, body := get(t, status+path); code != 200 || body != want {
			t.Errorf("/%s: %d %q, want 200 %q", path, code, body, want)
		}
	}
}

// TestStatusWorkersAndReloads: the status page shows a busy worker with its
// script, and an edited script counts as a reload.
func TestStatusWorkersAndReloads(t *testing.T) {
	dir := t.TempDir()
	// The scripts may run as www-data: let them reach the directory.
	for d, mode := range map[string]os.FileMode{filepath.Dir(dir): 0o755, dir: 0o755} {
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	marker := filepath.Join(dir, "go-on")
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("v.py", "#!/usr/bin/python3\nprint('Content-Type: text/plain')\nprint()\nprint('one')\n")
	src, err := os.ReadFile(filepath.Join(testdataCGIBin(t), "progress.py"))
	if err != nil {
		t.Fatal(err)
	}
	write("progress.py", string(src))
	p := startWarmcgiProcess(t, dir, "--workers", "1", "--status", "127.0.0.1:0", "--stat-interval", "0")
	status := statusURL(t, p.stderr.String)

	v := map[string]string{"script": "/cgi-bin/v.py"}
	if _, _, body := get(t, p.url+"cgi-bin/v.py"); body != "one\n" {
		t.Fatalf("v.py: %q", body)
	}
	write("v.py", "#!/usr/bin/python3\nprint('Content-Type: text/plain')\nprint()\nprint('two!')\n")
	if _, _, body := get(t, p.url+"cgi-bin/v.py"); body != "two!\n" {
		t.Fatalf("v.py after the edit: %q", body)
	}
	families := waitMetric(t, status, "warmcgi_requests_total", map[string]string{"script": "/cgi-bin/v.py", "code": "2xx"}, 2)
	if c, _ := metricValue(families, "warmcgi_script_compiles_total", v); c != 1 {
		t.Errorf("compiles of v.py = %v, want 1", c)
	}
	if r, _ := metricValue(families, "warmcgi_script_reloads_total", v); r != 1 {
		t.Errorf("reloads of v.py = %v, want 1", r)
	}

	rd := holdProgress(t, p.url, marker)
	_, _, page := get(t, status)
	if !regexp.MustCompile(`(?m)^0 +busy +2 +0 +\S+ +/cgi-bin/progress\.py$`).MatchString(page) {
		t.Errorf("status page does not show worker 0 busy with progress.py, having served v.py twice:\n%s", page)
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(rd); err != nil || string(rest) != "done\n" {
		t.Errorf("rest of progress.py: %q, %v", rest, err)
	}
}

// TestReadyzDuringDrain: after SIGTERM, while a request is still running,
// /readyz answers 503 and /healthz 200; the request still completes.
func TestReadyzDuringDrain(t *testing.T) {
	tmp := t.TempDir()
	for dir, mode := range map[string]os.FileMode{filepath.Dir(tmp): 0o755, tmp: 0o777} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
	}
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--status", "127.0.0.1:0")
	status := statusURL(t, p.stderr.String)
	if code, _, _ := get(t, status+"readyz"); code != 200 {
		t.Fatalf("/readyz before the drain: %d", code)
	}
	marker := filepath.Join(tmp, "go-on")
	rd := holdProgress(t, p.url, marker)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _, body := get(t, status+"readyz")
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "draining") {
				t.Errorf("/readyz while draining: %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 15s after SIGTERM", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _, _ := get(t, status+"healthz"); code != 200 {
		t.Errorf("/healthz while draining: %d, want 200", code)
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(rd); err != nil || string(rest) != "done\n" {
		t.Errorf("the in-flight request: %q, %v; want it completed", rest, err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("exit after the drain: %v", p.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server still running 20s after its last request")
	}
}

// TestStatusLoopbackOnly: --status on an address that is not loopback is
// refused unless --status-public says so.
func TestStatusLoopbackOnly(t *testing.T) {
	dir := testdataCGIBin(t)
	args := append([]string{"serve", dir, "--listen", "127.0.0.1:0", "--status", "0.0.0.0:0"}, privilegeArgs(dir, nil)...)
	out, err := exec.Command(warmcgiBin, args...).CombinedOutput()
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "--status-public") {
		t.Errorf("--status 0.0.0.0:0: %v\n%s\nwant exit status %d naming --status-public", err, out, exitUsage)
	}

	// Bound on every address, but only ever reached through loopback.
	p := startWarmcgiProcess(t, dir, "--status", "0.0.0.0:0", "--status-public")
	status := strings.Replace(statusURL(t, p.stderr.String), "0.0.0.0", "127.0.0.1", 1)
	if code, _, _ := get(t, status+"healthz"); code != 200 {
		t.Errorf("--status-public: /healthz %d", code)
	}
}
