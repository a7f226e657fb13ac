package backend

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

// autoTarget is the mode --isolation auto moves a script to once it shows
// it needs more than a sub-interpreter. The one place to change it (to
// fork, once that mode exists).
const autoTarget = modeProcess

// AutoTarget names the mode --isolation auto moves scripts to.
func AutoTarget() string { return autoTarget.String() }

// AutoDecision is one script --isolation auto moved out of subinterp.
type AutoDecision struct {
	Script string    // the script's path
	Mode   string    // the mode it runs in from then on
	Reason string    // why (the runtime's words: "imports swiglike (single-phase init)")
	Since  time.Time // when its first request showed it
}

// autoBackend runs --isolation auto: each script in a sub-interpreter
// until a request's result says it needs another mode (pyhost's
// Result.NeedsMode: an unsafe extension module refused before its init
// ran, a SIGALRM timer, os.fork...), then in target for good. The request
// that showed it is run again in target when nothing of it reached the
// client yet and its body can be read again; otherwise it is answered as
// it ran and the next request is routed.
type autoBackend struct {
	sub    resultRunner
	target pyBackend
	logger *slog.Logger
	mu     sync.Mutex
	routed map[string]AutoDecision // by script path
}

// resultRunner runs a request and says why its script needs another mode
// (*embedded in sub-interpreters).
type resultRunner interface {
	runResult(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, string, error)
}

func (a *autoBackend) run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error) {
	if a.routedTo(req.Script) {
		return a.target.run(ctx, req, fl)
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
	out, needs, err := a.sub.runResult(ctx, req, fl)
	req.Stream = orig
	if needs == "" {
		return out, err
	}
	a.route(req.Script, needs)
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
	return a.target.run(ctx, req, fl)
}

func (a *autoBackend) routedTo(script string) bool {
	a.mu.Lock()
	_, ok := a.routed[script]
	a.mu.Unlock()
	return ok
}

// route records that script runs in the target mode from now on, and
// logs it the first time.
func (a *autoBackend) route(script, reason string) {
	a.mu.Lock()
	if _, ok := a.routed[script]; ok {
		a.mu.Unlock()
		return
	}
	if a.routed == nil {
		a.routed = make(map[string]AutoDecision)
	}
	a.routed[script] = AutoDecision{Script: script, Mode: autoTarget.String(), Reason: reason, Since: time.Now()}
	a.mu.Unlock()
	a.logger.Info("isolation auto: script moved out of subinterp", "script", script, "mode", autoTarget.String(), "reason", reason)
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
