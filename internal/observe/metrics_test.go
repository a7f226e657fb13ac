package observe

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/interp"
)

// fakeSource is a backend's pool with the figures a test sets.
type fakeSource struct {
	stats   interp.Stats
	workers []interp.WorkerStats
}

func (f *fakeSource) Stats() interp.Stats { return f.stats }

func (f *fakeSource) Workers(buf []interp.WorkerStats) []interp.WorkerStats {
	return append(buf, f.workers...)
}

var _ Source = (*interp.Pool[interp.Interpreter])(nil)

// gather collects m's metrics as Prometheus would scrape them: by family
// name, each sample keyed by its label values (in label name order)
// joined with ",".
func gather(t *testing.T, m *Metrics) map[string]map[string]*dto.Metric {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]*dto.Metric{}
	for _, mf := range families {
		byLabels := map[string]*dto.Metric{}
		for _, s := range mf.GetMetric() {
			key := ""
			for i, lp := range s.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += lp.GetValue()
			}
			byLabels[key] = s
		}
		out[mf.GetName()] = byLabels
	}
	return out
}

// TestCollector: the collector reports the script counters and adds up
// the pool figures of every source; readiness needs every source alive.
func TestCollector(t *testing.T) {
	m := NewMetrics("/srv/cgi", "/cgi-bin/")
	a := &fakeSource{stats: interp.Stats{Workers: 2, Busy: 1, Queued: 3, Rejected: 4, Replaced: 5, Abandoned: 1, Stuck: 1}}
	b := &fakeSource{stats: interp.Stats{Workers: 1, Busy: 1, Queued: 1, Rejected: 1, Replaced: 1}}
	ta := m.AddSource("subinterp", a, 2)
	m.AddSource("process", b, 1)
	m.Observe(&cgienv.RequestInfo{Script: "/srv/cgi/a.py", Status: 200, Duration: 3 * time.Millisecond})
	m.Observe(&cgienv.RequestInfo{Script: "/srv/cgi/a.py", Status: 504, TimedOut: true, Duration: 2 * time.Second})
	m.Observe(&cgienv.RequestInfo{Status: 404})
	ta.Compiled("/srv/cgi/a.py", false)
	ta.Compiled("/srv/cgi/a.py", true)
	m.SetReady(true)

	got := gather(t, m)
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"warmcgi_requests_total", "2xx,/cgi-bin/a.py", 1},
		{"warmcgi_requests_total", "5xx,/cgi-bin/a.py", 1},
		{"warmcgi_requests_total", "4xx,-", 1},
		{"warmcgi_timeouts_total", "/cgi-bin/a.py", 1},
		{"warmcgi_script_compiles_total", "/cgi-bin/a.py", 1},
		{"warmcgi_script_reloads_total", "/cgi-bin/a.py", 1},
		{"warmcgi_requests_in_flight", "", 0},
		{"warmcgi_queue_length", "", 4},
		{"warmcgi_queue_rejected_total", "", 5},
		{"warmcgi_workers", "", 3},
		{"warmcgi_workers_busy", "", 2},
		{"warmcgi_worker_replacements_total", "", 6},
		{"warmcgi_scripts_abandoned_total", "", 1},
		{"warmcgi_scripts_abandoned", "", 1},
		{"warmcgi_ready", "", 1},
	} {
		s := got[c.name][c.labels]
		if s == nil {
			t.Errorf("%s{%s} missing", c.name, c.labels)
			continue
		}
		v := s.GetCounter().GetValue() + s.GetGauge().GetValue()
		if v != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	h := got["warmcgi_request_duration_seconds"]["/cgi-bin/a.py"].GetHistogram()
	if h.GetSampleCount() != 2 || math.Abs(h.GetSampleSum()-2.003) > 1e-9 {
		t.Errorf("duration histogram: %d requests, %v s; want 2, 2.003", h.GetSampleCount(), h.GetSampleSum())
	}
	if _, ok := got["warmcgi_timeouts_total"]["-"]; ok {
		t.Error("timeouts counted for requests that named no script")
	}

	b.stats.Workers = 0
	if ok, why := m.readiness(); ok || why != "no live workers" {
		t.Errorf("a source without workers: ready %v (%s)", ok, why)
	}
	m.SetReady(false)
	if ok, _ := m.readiness(); ok {
		t.Error("ready while draining")
	}
	if v := gather(t, m)["warmcgi_ready"][""].GetGauge().GetValue(); v != 0 {
		t.Errorf("warmcgi_ready = %v while draining", v)
	}
}

// TestTracker: a tracker records its worker's script and time, ignores
// worker numbers beyond its pool, and a nil one (no --status) ignores
// everything.
func TestTracker(t *testing.T) {
	var nilMetrics *Metrics
	tr := nilMetrics.AddSource("subinterp", &fakeSource{}, 1)
	if tr != nil {
		t.Fatalf("AddSource on nil Metrics = %v", tr)
	}
	tr.Busy(0, "/x.py")
	tr.Idle(0)
	tr.Compiled("/x.py", false)

	m := NewMetrics("/srv", "/cgi-bin/")
	tr = m.AddSource("main", &fakeSource{}, 1)
	tr.Busy(1, "/srv/x.py") // no such worker
	tr.Busy(-1, "/srv/x.py")
	tr.Busy(0, "/srv/x.py")
	slot := &m.sourceList()[0].slots[0]
	if p := slot.script.Load(); p == nil || *p != "/cgi-bin/x.py" || slot.since.Load() == 0 {
		t.Errorf("busy slot: script %v since %d", p, slot.since.Load())
	}
	tr.Idle(0)
	if slot.since.Load() != 0 {
		t.Error("idle worker still has a start time")
	}
}

// TestCountInFlight: a request is counted while its handler runs.
func TestCountInFlight(t *testing.T) {
	m := NewMetrics("/srv", "/cgi-bin/")
	var during int64
	h := m.CountInFlight(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { during = m.inFlight.Load() }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if during != 1 || m.inFlight.Load() != 0 {
		t.Errorf("in flight %d during the request, %d after; want 1, 0", during, m.inFlight.Load())
	}
}

// TestScriptLabelCap: scripts beyond maxScriptLabels share the "other"
// entry, so a huge DIR cannot make unbounded metric series; requests that
// named no script have their own entry.
func TestScriptLabelCap(t *testing.T) {
	st := NewMetrics("/srv/cgi", "/cgi-bin/")
	for i := range maxScriptLabels + 5 {
		st.Observe(&cgienv.RequestInfo{Script: fmt.Sprintf("/srv/cgi/s%d.py", i), Status: 200, Duration: time.Millisecond})
	}
	st.Observe(&cgienv.RequestInfo{Script: "/srv/cgi/s0.py", Status: 502, Duration: time.Second})
	st.Observe(&cgienv.RequestInfo{Status: 404})
	byName := map[string]scriptSnapshot{}
	for _, ss := range st.scriptSnapshots() {
		byName[ss.name] = ss
	}
	if len(byName) != maxScriptLabels+2 {
		t.Errorf("%d entries, want %d scripts, other and -", len(byName), maxScriptLabels)
	}
	if o := byName[otherScripts]; o.requests != 5 {
		t.Errorf("other has %d requests, want 5", o.requests)
	}
	if n := byName[noScript]; n.requests != 1 || n.byClass[4] != 1 {
		t.Errorf("- has %+v, want one 4xx", n)
	}
	s0 := byName["/cgi-bin/s0.py"]
	if s0.requests != 2 || s0.byClass[2] != 1 || s0.byClass[5] != 1 || s0.total != time.Second+time.Millisecond {
		t.Errorf("/cgi-bin/s0.py: %+v", s0)
	}
	// p99 of two requests is the slower one's bucket; p50 the faster's.
	if q := s0.quantile(0.99); q != 1 {
		t.Errorf("p99 = %v, want the 1s bucket", q)
	}
	if q := s0.quantile(0.5); q != 0.001 {
		t.Errorf("p50 = %v, want the 1ms bucket", q)
	}
}
