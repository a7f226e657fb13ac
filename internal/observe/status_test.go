package observe

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/interp"
)

// TestStatusPage: the page shows the summed pool figures, each worker
// with the script it runs and for how long, and each script's counters.
func TestStatusPage(t *testing.T) {
	m := NewMetrics("/srv/cgi", "/cgi-bin/")
	src := &fakeSource{
		stats: interp.Stats{Workers: 2, Busy: 1, Queued: 1, Rejected: 2, Replaced: 3},
		workers: []interp.WorkerStats{
			{ID: 0, Live: true, Busy: true, Served: 7, Replaced: 1},
			{ID: 1, Live: true, Served: 2},
			{ID: 2},
		},
	}
	tr := m.AddSource("subinterp", src, 3)
	tr.Busy(0, "/srv/cgi/slow.py")
	m.Observe(&cgienv.RequestInfo{Script: "/srv/cgi/hello.py", Status: 200, Duration: 2 * time.Millisecond})
	m.Observe(&cgienv.RequestInfo{Script: "/srv/cgi/hello.py", Status: 302, Duration: 4 * time.Millisecond})
	m.SetReady(true)

	var b strings.Builder
	writeStatusPage(&b, m, StatusInfo{Python: "3.11.2", Mode: "gil=shared"}, time.Now().Add(time.Second))
	page := b.String()
	for _, want := range []string{
		`(?m)^python +3\.11\.2$`,
		`(?m)^mode +gil=shared$`,
		`(?m)^state +ready$`,
		`(?m)^queue +1 waiting, 2 rejected \(503\)$`,
		`(?m)^workers +2 of 3 running, 1 busy, 3 replaced$`,
		`(?m)^Workers$`,
		`(?m)^0 +busy +7 +1 +1(\.\d+)?s +/cgi-bin/slow\.py$`,
		`(?m)^1 +idle +2 +0 +- +-$`,
		`(?m)^2 +down +0 +0 +- +-$`,
		`(?m)^/cgi-bin/hello\.py +2 +1 +1 +0 +0 +0 +3ms +≤5ms +0 +0$`,
	} {
		if !regexp.MustCompile(want).MatchString(page) {
			t.Errorf("status page does not match %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "abandoned") {
		t.Errorf("an abandoned line with nothing abandoned:\n%s", page)
	}
}

// TestStatusPageSources: with several backends each has its own table of
// workers, named after it, and the totals add them up.
func TestStatusPageSources(t *testing.T) {
	m := NewMetrics("/srv/cgi", "/cgi-bin/")
	m.AddSource("subinterp", &fakeSource{stats: interp.Stats{Workers: 2},
		workers: []interp.WorkerStats{{ID: 0, Live: true}, {ID: 1, Live: true}}}, 2)
	pt := m.AddSource("process", &fakeSource{stats: interp.Stats{Workers: 1, Busy: 1, Abandoned: 2, Stuck: 1},
		workers: []interp.WorkerStats{{ID: 0, Live: true, Busy: true, Served: 4}}}, 1)
	pt.Busy(0, "/srv/cgi/forks.py")
	var b strings.Builder
	writeStatusPage(&b, m, StatusInfo{}, time.Now())
	page := b.String()
	for _, want := range []string{
		`(?m)^workers +3 of 3 running, 1 busy, 0 replaced$`,
		`(?m)^abandoned +2 scripts overran --timeout and did not stop; 1 still hold an interpreter$`,
		`(?m)^Workers \(subinterp\)\nid +state.*\n0 +idle .*\n1 +idle .*\n\nWorkers \(process\)\nid +state.*\n0 +busy +4 +0 +\S+ +/cgi-bin/forks\.py$`,
		`(?m)^state +not accepting requests \(starting or draining\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(page) {
			t.Errorf("status page does not match %s:\n%s", want, page)
		}
	}
}

// TestStatusServer: the listener's routes, /readyz following readiness.
func TestStatusServer(t *testing.T) {
	m := NewMetrics("/srv/cgi", "/cgi-bin/")
	src := &fakeSource{stats: interp.Stats{Workers: 1}}
	m.AddSource("subinterp", src, 1)
	srv := NewStatusServer(m, StatusInfo{Python: "3.x"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	get := func(path string) (int, http.Header, string) {
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Header(), rec.Body.String()
	}
	if code, _, body := get("/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("/readyz before SetReady: %d %q", code, body)
	}
	m.SetReady(true)
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		if code, _, body := get(path); code != 200 || body != want {
			t.Errorf("%s: %d %q, want 200 %q", path, code, body, want)
		}
	}
	src.stats.Workers = 0
	if code, _, body := get("/readyz"); code != 503 || body != "no live workers\n" {
		t.Errorf("/readyz without workers: %d %q", code, body)
	}
	code, h, body := get("/")
	if code != 200 || h.Get("Cache-Control") != "no-store" || !strings.HasPrefix(body, "warmcgi") {
		t.Errorf("/: %d %v %q", code, h, body)
	}
	code, _, body = get("/metrics")
	if code != 200 || !strings.Contains(body, "warmcgi_workers 0") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	if code, _, _ := get("/nothing"); code != 404 {
		t.Errorf("/nothing: %d", code)
	}
}

// TestListenStatus: a status address that is not loopback is refused
// unless public is set.
func TestListenStatus(t *testing.T) {
	ln, err := ListenStatus("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := ListenStatus("0.0.0.0:0", false); !errors.Is(err, ErrStatusNotLoopback) {
		t.Errorf("0.0.0.0:0: %v, want ErrStatusNotLoopback", err)
	}
	ln, err = ListenStatus("0.0.0.0:0", true)
	if err != nil {
		t.Fatalf("0.0.0.0:0, public: %v", err)
	}
	ln.Close()
}
