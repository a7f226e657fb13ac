package observe

// What the server counts about its requests and workers, for the status
// page and /metrics (status.go). The counters are plain atomics updated
// once per request; Prometheus reads them only when scraped, through the
// Collector below, so the request path never touches client_golang.

import (
	"math"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/interp"
)

// maxScriptLabels caps how many scripts get their own counters (and
// Prometheus series). Scripts are files in DIR, so the set is bounded,
// but a DIR of thousands must not make thousands of series; the rest
// share the "other" entry.
const maxScriptLabels = 1000

// Names of the entries that are not scripts. Script names begin with '/'
// (they are URL paths), so these cannot clash with one.
const (
	noScript     = "-"     // requests that named no script: 404, 400, 414
	otherScripts = "other" // scripts beyond maxScriptLabels
)

// durationBuckets are the upper bounds, in seconds, of the latency
// histogram: from a warm hello-world to the default --timeout.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// scriptStats are the counters of one script.
type scriptStats struct {
	name string // the URL path under the prefix, e.g. /cgi-bin/hello.py
	// byClass counts responses by status class: index 1 to 5 for 1xx to
	// 5xx (499, a client that left, counts as 4xx).
	byClass  [6]atomic.Uint64
	timeouts atomic.Uint64
	compiles atomic.Uint64 // first compiles, one per worker
	reloads  atomic.Uint64 // recompiles after the file changed
	// buckets counts requests by duration: buckets[i] those within
	// durationBuckets[i] (and above the bound before), the last one the
	// slower rest. Together they are the request count.
	buckets [17]atomic.Uint64
	nanos   atomic.Int64 // total duration
}

func (s *scriptStats) observe(info *cgienv.RequestInfo) {
	class := info.Status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	s.byClass[class].Add(1)
	if info.TimedOut {
		s.timeouts.Add(1)
	}
	sec := info.Duration.Seconds()
	i := 0
	for i < len(durationBuckets) && sec > durationBuckets[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.nanos.Add(int64(info.Duration))
}

// snapshot is a consistent-enough copy of a script's counters.
type scriptSnapshot struct {
	name              string
	requests          uint64
	byClass           [6]uint64
	timeouts          uint64
	compiles, reloads uint64
	buckets           [17]uint64
	total             time.Duration
}

func (s *scriptStats) snapshot() scriptSnapshot {
	ss := scriptSnapshot{name: s.name, timeouts: s.timeouts.Load(),
		compiles: s.compiles.Load(), reloads: s.reloads.Load(), total: time.Duration(s.nanos.Load())}
	for i := range s.byClass {
		ss.byClass[i] = s.byClass[i].Load()
	}
	// The request count is the sum of the buckets, so the histogram
	// always adds up whatever requests end during the copy.
	for i := range s.buckets {
		ss.buckets[i] = s.buckets[i].Load()
		ss.requests += ss.buckets[i]
	}
	return ss
}

// quantile estimates the q-quantile of the durations as the upper bound
// of the bucket it falls in; +Inf when it is in the last one.
func (ss *scriptSnapshot) quantile(q float64) float64 {
	if ss.requests == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(ss.requests)))
	var seen uint64
	for i, n := range ss.buckets {
		seen += n
		if seen >= rank && i < len(durationBuckets) {
			return durationBuckets[i]
		}
	}
	return math.Inf(1)
}

// Source is a backend's worker pool as the status page and /metrics see
// it. *interp.Pool satisfies it, whatever runs in its workers.
type Source interface {
	Stats() interp.Stats
	Workers(buf []interp.WorkerStats) []interp.WorkerStats
}

// source is a registered Source with what the page shows of its workers
// beyond the pool's own counters.
type source struct {
	name  string
	src   Source
	slots []workerSlot // by worker number
}

// workerSlot is the script a worker runs and since when. The worker's
// thread writes it; the status page reads it.
type workerSlot struct {
	script atomic.Pointer[string]
	since  atomic.Int64 // UnixNano; 0 when idle
}

// Metrics is everything the status page and /metrics report: counters
// per script, requests in flight, readiness, and the registered sources.
type Metrics struct {
	start  time.Time
	root   string // the served directory, cleaned and absolute
	prefix string

	inFlight atomic.Int64
	ready    atomic.Bool // workers started and not draining

	moves atomic.Pointer[func() []Move] // SetMoves

	mu      sync.RWMutex
	scripts map[string]*scriptStats // by script file
	none    *scriptStats
	other   *scriptStats
	sources []*source
}

// NewMetrics returns the counters of a server serving root under the URL
// path prefix.
func NewMetrics(root, prefix string) *Metrics {
	return &Metrics{
		start:   time.Now(),
		root:    root,
		prefix:  prefix,
		scripts: make(map[string]*scriptStats),
		none:    &scriptStats{name: noScript},
		other:   &scriptStats{name: otherScripts},
	}
}

// Move is a script --isolation auto runs in another mode than a
// sub-interpreter, and why.
type Move struct {
	Script string // the script's file
	Mode   string
	Reason string
	Since  time.Time
}

// SetMoves gives the status page and /metrics the scripts --isolation auto
// has moved (the backends know them).
func (st *Metrics) SetMoves(moves func() []Move) {
	if st != nil {
		st.moves.Store(&moves)
	}
}

// moveList returns the moved scripts, with their names as in the per-script
// counters.
func (st *Metrics) moveList() []Move {
	f := st.moves.Load()
	if f == nil {
		return nil
	}
	ms := (*f)()
	for i := range ms {
		ms[i].Script = st.scriptName(ms[i].Script)
	}
	return ms
}

// scriptName is a script file's name in the counters and on the page: its
// path under the URL prefix.
func (st *Metrics) scriptName(file string) string {
	if rel, err := filepath.Rel(st.root, file); err == nil && filepath.IsLocal(rel) {
		return st.prefix + filepath.ToSlash(rel)
	}
	return st.prefix + file
}

// script returns the counters of a script file, creating them on first
// use while there are fewer than maxScriptLabels.
func (st *Metrics) script(file string) *scriptStats {
	if file == "" {
		return st.none
	}
	st.mu.RLock()
	s := st.scripts[file]
	n := len(st.scripts)
	st.mu.RUnlock()
	if s != nil {
		return s
	}
	if n >= maxScriptLabels {
		return st.other
	}
	name := st.scriptName(file)
	st.mu.Lock()
	defer st.mu.Unlock()
	if s = st.scripts[file]; s != nil {
		return s
	}
	if len(st.scripts) >= maxScriptLabels {
		return st.other
	}
	s = &scriptStats{name: name}
	st.scripts[file] = s
	return s
}

// Observe counts a finished request (cgienv.Handler's Observe hook).
func (st *Metrics) Observe(info *cgienv.RequestInfo) {
	st.script(info.Script).observe(info)
}

// Hook returns cgienv.Handler's Observe hook feeding the access log and
// the counters, either of which may be off (nil); nil when both are.
func Hook(alog *AccessLog, st *Metrics) func(*http.Request, *cgienv.RequestInfo) {
	switch {
	case alog != nil && st != nil:
		return func(r *http.Request, info *cgienv.RequestInfo) {
			st.Observe(info)
			alog.Log(r, info)
		}
	case alog != nil:
		return alog.Log
	case st != nil:
		return func(_ *http.Request, info *cgienv.RequestInfo) { st.Observe(info) }
	}
	return nil
}

// CountInFlight wraps the handler to count the requests it is answering.
func (st *Metrics) CountInFlight(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.inFlight.Add(1)
		defer st.inFlight.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// SetReady says whether the server takes requests: true once its workers
// run, false again while it drains (/readyz answers 503).
func (st *Metrics) SetReady(ready bool) { st.ready.Store(ready) }

// AddSource registers a backend's pool of size workers under name (its
// isolation mode). The Tracker it returns is for the backend's runner. A
// nil Metrics (no --status) registers nothing and returns nil.
func (st *Metrics) AddSource(name string, src Source, size int) *Tracker {
	if st == nil {
		return nil
	}
	s := &source{name: name, src: src, slots: make([]workerSlot, size)}
	st.mu.Lock()
	st.sources = append(st.sources, s)
	st.mu.Unlock()
	return &Tracker{m: st, s: s}
}

// Tracker is what a backend's runner reports about its workers: which
// script each runs, and compiles. A nil Tracker ignores every call.
type Tracker struct {
	m *Metrics
	s *source
}

// Busy records that a worker (numbered as the pool numbers it) started
// running a script file.
func (t *Tracker) Busy(worker int, file string) {
	if t == nil || worker < 0 || worker >= len(t.s.slots) {
		return
	}
	w := &t.s.slots[worker]
	w.script.Store(&t.m.script(file).name)
	w.since.Store(time.Now().UnixNano())
}

// Idle records that a worker finished its request.
func (t *Tracker) Idle(worker int) {
	if t == nil || worker < 0 || worker >= len(t.s.slots) {
		return
	}
	t.s.slots[worker].since.Store(0)
}

// Compiled records that a worker compiled a script file: for the first
// time in its interpreter, or again (reload) because the file changed.
func (t *Tracker) Compiled(file string, reload bool) {
	if t == nil {
		return
	}
	s := t.m.script(file)
	if reload {
		s.reloads.Add(1)
	} else {
		s.compiles.Add(1)
	}
}

// scriptSnapshots copies every script's counters, the "-" and "other"
// entries last when they have requests.
func (st *Metrics) scriptSnapshots() []scriptSnapshot {
	st.mu.RLock()
	out := make([]scriptSnapshot, 0, len(st.scripts)+2)
	for _, s := range st.scripts {
		out = append(out, s.snapshot())
	}
	st.mu.RUnlock()
	for _, s := range []*scriptStats{st.none, st.other} {
		if ss := s.snapshot(); ss.requests > 0 {
			out = append(out, ss)
		}
	}
	return out
}

// sourceList returns the registered sources, in registration order.
func (st *Metrics) sourceList() []*source {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.sources
}

// Prometheus metric descriptions.
var (
	descRequests = prometheus.NewDesc("warmcgi_requests_total",
		"Requests answered, by script (URL path; \"-\" for none, \"other\" beyond 1000 scripts) and status class.",
		[]string{"script", "code"}, nil)
	descDuration = prometheus.NewDesc("warmcgi_request_duration_seconds",
		"Time to answer a request, the script's run included, by script.",
		[]string{"script"}, nil)
	descTimeouts = prometheus.NewDesc("warmcgi_timeouts_total",
		"Requests whose script ran past --timeout (504, or a streamed response cut short), by script.",
		[]string{"script"}, nil)
	descCompiles = prometheus.NewDesc("warmcgi_script_compiles_total",
		"Scripts compiled by a worker for the first time, by script.",
		[]string{"script"}, nil)
	descReloads = prometheus.NewDesc("warmcgi_script_reloads_total",
		"Scripts recompiled by a worker because the file changed, by script.",
		[]string{"script"}, nil)
	descInFlight = prometheus.NewDesc("warmcgi_requests_in_flight",
		"Requests being answered now.", nil, nil)
	descQueue = prometheus.NewDesc("warmcgi_queue_length",
		"Requests waiting for a worker.", nil, nil)
	descRejected = prometheus.NewDesc("warmcgi_queue_rejected_total",
		"Requests refused with 503 because the queue was full or the wait too long.", nil, nil)
	descWorkers = prometheus.NewDesc("warmcgi_workers",
		"Workers (interpreter threads) running.", nil, nil)
	descBusy = prometheus.NewDesc("warmcgi_workers_busy",
		"Workers running a request now.", nil, nil)
	descReplaced = prometheus.NewDesc("warmcgi_worker_replacements_total",
		"Workers replaced by a fresh one (after --max-requests, or after a failure).", nil, nil)
	descAbandoned = prometheus.NewDesc("warmcgi_scripts_abandoned_total",
		"Requests given up on after --timeout and a grace (the script did not stop): answered, their interpreter replaced.", nil, nil)
	descStuck = prometheus.NewDesc("warmcgi_scripts_abandoned",
		"Abandoned scripts still holding their interpreter (parked).", nil, nil)
	descReady = prometheus.NewDesc("warmcgi_ready",
		"1 when the server accepts requests (workers started, not draining), else 0.", nil, nil)
	descMoved = prometheus.NewDesc("warmcgi_script_isolation_moved",
		"1 for each script --isolation auto runs in another mode than a sub-interpreter, with that mode and why.",
		[]string{"script", "mode", "reason"}, nil)
)

var statusClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// Describe implements prometheus.Collector.
func (st *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descDuration, descTimeouts, descCompiles,
		descReloads, descInFlight, descQueue, descRejected, descWorkers, descBusy, descReplaced,
		descAbandoned, descStuck, descReady, descMoved} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (st *Metrics) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	for _, ss := range st.scriptSnapshots() {
		for class, n := range ss.byClass {
			if n > 0 {
				counter(descRequests, n, ss.name, statusClasses[class])
			}
		}
		cum := make(map[float64]uint64, len(durationBuckets))
		var seen uint64
		for i, bound := range durationBuckets {
			seen += ss.buckets[i]
			cum[bound] = seen
		}
		ch <- prometheus.MustNewConstHistogram(descDuration, ss.requests, ss.total.Seconds(), cum, ss.name)
		if ss.name == noScript {
			continue // no script ran: nothing timed out or was compiled
		}
		counter(descTimeouts, ss.timeouts, ss.name)
		counter(descCompiles, ss.compiles, ss.name)
		counter(descReloads, ss.reloads, ss.name)
	}
	gauge(descInFlight, float64(st.inFlight.Load()))
	ps := st.poolStats()
	gauge(descQueue, float64(ps.Queued))
	counter(descRejected, ps.Rejected)
	gauge(descWorkers, float64(ps.Workers))
	gauge(descBusy, float64(ps.Busy))
	counter(descReplaced, ps.Replaced)
	counter(descAbandoned, ps.Abandoned)
	gauge(descStuck, float64(ps.Stuck))
	ready := 0.0
	if ok, _ := st.readiness(); ok {
		ready = 1
	}
	gauge(descReady, ready)
	for _, m := range st.moveList() {
		ch <- prometheus.MustNewConstMetric(descMoved, prometheus.GaugeValue, 1, m.Script, m.Mode, m.Reason)
	}
}

// poolStats adds up the figures of every source's pool.
func (st *Metrics) poolStats() interp.Stats {
	var sum interp.Stats
	for _, s := range st.sourceList() {
		ps := s.src.Stats()
		sum.Workers += ps.Workers
		sum.Busy += ps.Busy
		sum.Queued += ps.Queued
		sum.Served += ps.Served
		sum.Rejected += ps.Rejected
		sum.Canceled += ps.Canceled
		sum.Panics += ps.Panics
		sum.Replaced += ps.Replaced
		sum.Abandoned += ps.Abandoned
		sum.Stuck += ps.Stuck
	}
	return sum
}

// readiness reports whether the server takes requests, and why not: not
// while starting or draining, nor while a source has no live worker.
func (st *Metrics) readiness() (bool, string) {
	if !st.ready.Load() {
		return false, "not accepting requests (starting or draining)"
	}
	for _, s := range st.sourceList() {
		if s.src.Stats().Workers == 0 {
			return false, "no live workers"
		}
	}
	return true, "ready"
}
