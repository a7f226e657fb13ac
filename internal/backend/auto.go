package backend

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/pyhost"
)

// The modes --isolation auto moves a script to once it shows it needs more
// than a sub-interpreter. An extension module that is unsafe in several
// interpreters needs only an interpreter of its own, and a warm worker
// process keeps it loaded (fork pays a fresh process per request: on this
// project's 2-core VM hello.py took 54 ms in fork mode, under 1 ms in a
// worker process). What the process as a whole must give exactly (a real
// SIGALRM, the time zone, fork, rlimits) needs a fresh one: fork.
const (
	autoExtTarget   = modeProcess
	autoExactTarget = modeFork
)

// autoTargetFor is the mode for a reason the runtime gave. A module that
// is unsafe in sub-interpreters ("imports ...": runtime/extguard.py,
// modules.py, run.py) and a script that starts processes ("starts a
// process ...": runtime/children.py, whose children then get a worker's
// --max-procs and process-group kill) need a process of their own, which a
// warm worker gives; every other reason is about the process's state.
func autoTargetFor(reason string) mode {
	if strings.HasPrefix(reason, "imports ") || strings.HasPrefix(reason, "starts a process") ||
		strings.HasPrefix(reason, cpuReason) {
		return autoExtTarget
	}
	return autoExactTarget
}

// AutoTargetFor names the mode --isolation auto moves a script to for a
// reason such as "imports svn.fs (single-phase init)" or "calls
// signal.setitimer".
func AutoTargetFor(reason string) string { return autoTargetFor(reason).String() }

// AutoDecision is one script --isolation auto moved out of subinterp.
type AutoDecision struct {
	Script string    // the script's path
	Mode   string    // the mode it runs in from then on
	Reason string    // why (the runtime's words: "imports swiglike (single-phase init)")
	Since  time.Time // when its first request showed it
	mode   mode
}

// autoBackend runs --isolation auto: each script in a sub-interpreter
// until a request's result says it needs another mode (pyhost's
// Result.NeedsMode: an unsafe extension module refused before its init
// ran, a SIGALRM timer, os.fork...), then in target for good. The request
// that showed it is run again in target when nothing of it reached the
// client yet and its body can be read again; otherwise it is answered as
// it ran and the next request is routed.
type autoBackend struct {
	sub     resultRunner
	targets [numModes]pyBackend // autoExtTarget's and autoExactTarget's
	logger  *slog.Logger
	// cpuRoute: the sub-interpreters share one GIL and there are several
	// workers, so CPU-bound scripts are moved to worker processes.
	cpuRoute bool
	mu       sync.Mutex
	routed   map[string]AutoDecision // by script path
	cpu      map[string]*cpuStat     // by script path, with cpuRoute
}

// resultRunner runs a request and says what auto needs to know of the run
// (*embedded in sub-interpreters).
type resultRunner interface {
	runResult(ctx context.Context, req *cgienv.Request, fl shebangFlags, measureCPU bool) (*cgienv.Output, runInfo, error)
}

// On Python 3.11 and 3.12 the sub-interpreters share one GIL, so requests
// that keep it busy run one at a time whatever the number of workers,
// while worker processes run them on a core each. A script whose requests
// take cpuRouteAt of CPU on their thread (a running average, judged from
// the cpuRouteAfter-th measured request) moves to process mode: there a
// request costs a few hundred microseconds more, a small price beside
// milliseconds of work that can then run in parallel. A run that compiled
// the script is not measured: each worker's first run of a script also
// imports what it uses (with -w 8, eight such runs at once on one GIL took
// 53 ms each for a script that only sleeps). Reading the thread's CPU
// clock takes two system calls, so once judged light a script is measured
// on every cpuSample-th request.
const (
	cpuRouteAt    = 2 * time.Millisecond
	cpuRouteAfter = 3
	cpuSample     = 8
	cpuReason     = "keeps the shared GIL busy"
)

// cpuStat is the running average CPU time of one script's measured
// requests, and how many requests it had.
type cpuStat struct {
	seen, n int
	avg     time.Duration
}

// lookup returns the mode script was moved to, if it was, and else whether
// its next request's CPU time is to be measured.
func (a *autoBackend) lookup(script string) (m mode, routed, measure bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d, ok := a.routed[script]; ok {
		return d.mode, true, false
	}
	if !a.cpuRoute {
		return 0, false, false
	}
	if a.cpu == nil {
		a.cpu = make(map[string]*cpuStat)
	}
	st := a.cpu[script]
	if st == nil {
		// A script's first request also imports what it uses: not measured.
		a.cpu[script] = &cpuStat{seen: 1}
		return 0, false, false
	}
	st.seen++
	return 0, false, st.n < cpuRouteAfter || st.seen%cpuSample == 0
}

// cpuBound records a measured request's CPU time and returns the reason
// to move its script, or "".
func (a *autoBackend) cpuBound(script string, cpu time.Duration) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.cpu[script]
	if st == nil {
		return ""
	}
	st.n++
	if st.n == 1 {
		st.avg = cpu
	} else {
		st.avg += (cpu - st.avg) / 4
	}
	if st.n < cpuRouteAfter || st.avg < cpuRouteAt {
		return ""
	}
	delete(a.cpu, script)
	version, _, _ := strings.Cut(pyhost.Version(), " ")
	return fmt.Sprintf("%s %.1f ms per request (Python %s: one GIL for every worker)",
		cpuReason, float64(st.avg)/float64(time.Millisecond), version)
}

func (a *autoBackend) run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error) {
	m, routed, measure := a.lookup(req.Script)
	if routed {
		return a.targets[m].run(ctx, req, fl)
	}
	var sent atomic.Bool
	orig := req.Stream
	if orig != nil {
		req.Stream = func(chunk []byte) cgienv.StreamAnswer {
			ans := orig(chunk)
			if ans == cgienv.StreamSent {
				sent.Store(true)
			}
			return ans
		}
	}
	out, info, err := a.sub.runResult(ctx, req, fl, measure)
	req.Stream = orig
	needs := info.needs
	if needs == "" {
		if info.measured && err == nil {
			if reason := a.cpuBound(req.Script, info.cpu); reason != "" {
				a.route(req.Script, reason) // this request was answered: the next one moves
			}
		}
		return out, err
	}
	m = a.route(req.Script, needs)
	if err != nil || sent.Load() || req.StdinStream != nil {
		// Something reached the client, or the body cannot be read
		// again: this request stays as it ran; the next one is routed.
		return out, err
	}
	if req.StdinFile != nil {
		if _, err := req.StdinFile.Seek(0, 0); err != nil {
			return out, nil
		}
	}
	return a.targets[m].run(ctx, req, fl)
}

// routedTo is the mode script was moved to, if it was.
func (a *autoBackend) routedTo(script string) (mode, bool) {
	a.mu.Lock()
	d, ok := a.routed[script]
	a.mu.Unlock()
	return d.mode, ok
}

// route records that script runs in the mode its reason needs from now
// on, logs it the first time, and returns the mode.
func (a *autoBackend) route(script, reason string) mode {
	a.mu.Lock()
	if d, ok := a.routed[script]; ok {
		a.mu.Unlock()
		return d.mode
	}
	if a.routed == nil {
		a.routed = make(map[string]AutoDecision)
	}
	m := autoTargetFor(reason)
	a.routed[script] = AutoDecision{Script: script, Mode: m.String(), Reason: reason, Since: time.Now(), mode: m}
	a.mu.Unlock()
	a.logger.Info("isolation auto: script moved out of subinterp", "script", script, "mode", m.String(), "reason", reason)
	return m
}

// decisions returns the scripts moved so far, by path.
func (a *autoBackend) decisions() []AutoDecision {
	a.mu.Lock()
	out := make([]AutoDecision, 0, len(a.routed))
	for _, d := range a.routed {
		out = append(out, d)
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Script < out[j].Script })
	return out
}
