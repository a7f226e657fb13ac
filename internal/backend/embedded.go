package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/procmode"
	"github.com/warmcgi/warmcgi/interp"
	"github.com/warmcgi/warmcgi/pyhost"
	"golang.org/x/sys/unix"
)

// embeddedInterp is what each interp pool worker owns in the embedded
// modes: its interpreter and the buffers it reuses to build the C-side
// request blocks.
type embeddedInterp struct {
	id   int // the pool's worker number
	ip   *pyhost.Interp
	log  *slog.Logger
	env  []byte
	args []byte
	// req is the running request, for abandonJob on the pool's watch
	// goroutine.
	req atomic.Pointer[cgienv.Request]
}

var _ interp.Interpreter = (*embeddedInterp)(nil)

func newEmbeddedInterp(ip *pyhost.Interp, id int, logger *slog.Logger) *embeddedInterp {
	w := &embeddedInterp{ip: ip, id: id, log: logger}
	return w
}

// Close ends the worker's interpreter. One that a script's thread still
// runs in is left as it is, with its memory: that is said in the log, not
// reported as a failure (the worker is gone all the same).
func (w *embeddedInterp) Close() error {
	err := w.ip.Close()
	if errors.Is(err, pyhost.ErrLeftRunning) {
		w.log.Warn("interpreter left running, with its memory, until the server restarts: a thread a script started still runs in it",
			"worker", w.id)
		return nil
	}
	return err
}

// abandonJob is interp.Options.Abandon: the client of the request that
// overran is answered now, and the script's thread is parked for good, so
// that it holds neither a core nor the GIL other interpreters may share.
// Its interpreter is never used again, even where no other took its place
// (main mode): a script that swallows every exception would otherwise
// slow every request of the server.
func abandonJob(ip interp.Interpreter, _ bool) {
	w := ip.(*embeddedInterp)
	w.ip.Park()
	if req := w.req.Load(); req != nil {
		req.Abandon()
	}
}

// embedded runs cgienv requests on an interp pool of interpreters.
type embedded struct {
	pool   *interp.Pool[*embeddedInterp]
	logger *slog.Logger
	rec    Recorder // nil: none
}

// stampOf is a script's freshness stamp as pyhost and the worker
// processes take it: mtime_ns, size, inode, device.
func stampOf(s cgienv.Stamp) [4]int64 {
	return [4]int64{s.MtimeNs, s.Size, int64(s.Ino), int64(s.Dev)}
}

// run runs a request with the script's shebang flags (-u, -O).
func (r *embedded) run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error) {
	out, _, err := r.runResult(ctx, req, fl, false)
	return out, err
}

// runInfo is what --isolation auto learns from a run in a sub-interpreter.
type runInfo struct {
	needs string        // why the script needs another mode (pyhost's Result.NeedsMode)
	cpu   time.Duration // CPU time of the exec on its thread, when measured
	// measured: cpu was measured and tells the script's own cost. A run
	// that compiled the script (its first in this interpreter, or after
	// an edit) also ran its imports, each worker once: not measured.
	measured bool
}

// threadCPU is the calling OS thread's CPU time (0 if the clock fails).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// runResult is run that also returns what auto needs to know of the run;
// measureCPU: with the exec's CPU time on its thread (auto.go, cpuRouteAt).
func (r *embedded) runResult(ctx context.Context, req *cgienv.Request, fl shebangFlags, measureCPU bool) (*cgienv.Output, runInfo, error) {
	var res pyhost.Result
	var execErr error
	var cpu time.Duration
	err := r.pool.Do(ctx, func(w *embeddedInterp) {
		if r.rec != nil {
			r.rec.Busy(w.id, req.Script)
			defer r.rec.Idle(w.id)
		}
		w.env = procmode.AppendBlock(w.env[:0], req.Env)
		w.args = procmode.AppendBlock(w.args[:0], req.Args)
		w.req.Store(req)
		defer w.req.Store(nil)
		if measureCPU { // the worker's goroutine is locked to its thread
			start := threadCPU()
			defer func() { cpu = threadCPU() - start }()
		}
		execErr = w.ip.Exec(&pyhost.Request{
			Path:  req.Script,
			Stamp: stampOf(req.Stamp),
			Env:   w.env,
			Args:  w.args,
			Body:  req.Stdin,

			BodyFile: req.StdinFile,

			BodyReader: req.StdinStream,

			Unbuffered: fl.unbuffered,
			Optimize:   fl.optimize,
			Stream:     req.Stream,
		}, &res)
	})
	pyhost.TrimWhenIdle()
	switch {
	case errors.Is(err, interp.ErrQueueFull):
		return nil, runInfo{}, fmt.Errorf("%w: %w", cgienv.ErrOverloaded, err)
	case err != nil:
		return nil, runInfo{}, err
	case execErr != nil:
		return nil, runInfo{}, execErr
	}
	info := runInfo{needs: res.NeedsMode}
	if measureCPU && res.Compiled == pyhost.CompileNone {
		info.cpu, info.measured = cpu, true
	}
	if r.rec != nil && res.Compiled != pyhost.CompileNone {
		r.rec.Compiled(req.Script, res.Compiled == pyhost.CompileReload)
	}
	if res.TimedOut { // set by pyhost's C layer (ph_result.timed_out)
		// The handler logs the stderr line by line, as for any script.
		return &cgienv.Output{Stderr: res.Stderr}, info, timedOut(req.Script, res.Failure)
	}
	if len(res.Late) > 0 {
		r.logger.Warn("output written outside any request (a thread or finalizer of an earlier request)",
			"script", req.Script, "output", string(res.Late))
	}
	return &cgienv.Output{
		Stdout:   res.Stdout,
		Stderr:   res.Stderr,
		ExitCode: res.ExitCode,
		Failure:  res.Failure,
	}, info, nil
}

// spillAfter is how long a request waits for a busy worker before it goes
// to an idle one, where the interpreters share a GIL.
const spillAfter = 2 * time.Millisecond

// newEmbeddedPool starts n workers with an interpreter each:
// sub-interpreters, or the main interpreter when main is set; guard, when
// not nil, judges the extension modules sub-interpreters import.
func newEmbeddedPool(c *Config, n int, main bool, guard func(module, path string) string) (*interp.Pool[*embeddedInterp], error) {
	ownGIL := pyhost.OwnGILSupported()
	// Sub-interpreters that share one GIL (Python before 3.13) gain
	// nothing from running short requests at once: two threads only
	// contend for the lock. Requests then queue for the worker that is
	// busy, on its warm thread, and go to another only after waiting
	// spillAfter, as a request waiting on I/O makes them (README,
	// Performance). With a GIL each (3.13+), the same keeps short
	// requests on one warm thread, leaving the other cores to net/http,
	// and a request that has waited spillAfter goes to an idle worker
	// whatever the busy one's CPU use (interp Options.Parallel).
	var spill time.Duration
	if !main && n > 1 {
		spill = spillAfter
	}
	maxStuck := 0 // as many as there are workers
	if main {
		maxStuck = -1 // there is no second main interpreter
	}
	limit := timeLimit(c.Timeout)
	pool, err := interp.New(interp.Options{
		Workers:      n,
		QueueSize:    c.queue(),
		QueueTimeout: c.QueueTimeout,
		Logger:       c.Logger,
		MaxRequests:  c.MaxRequests,
		// Each interpreter stays on its worker's thread: what a script
		// keeps between requests (--modules keep, --globals keep) may be
		// bound to the thread that made it (an sqlite3 connection
		// refuses any other, COMPAT 84).
		Spill:    spill,
		Parallel: ownGIL,
		// A script still running past its limit plus a grace is given up
		// on: its client gets the 504 now, and a new interpreter takes
		// its worker's place. The main interpreter has no second:
		// main-mode requests then wait for it (README: modes).
		StuckAfter: limit.stuckAfter(),
		Abandon:    abandonJob,
		MaxStuck:   maxStuck,
	}, func(n int) (*embeddedInterp, error) {
		// The pool calls this on the interp worker's locked goroutine,
		// which also runs every Exec and the Close: one OS thread per
		// interpreter, as pyhost requires.
		// Each thread that runs a request gets its own working directory
		// (pyhost does that), so a request can start in its script's
		// directory, and a script's os.chdir moves no other request
		// (COMPAT 78, 88). Where the kernel refuses (a seccomp profile),
		// scripts run in the server's directory.
		chdir := true
		if err := syscall.Unshare(syscall.CLONE_FS); err != nil {
			chdir = false
			if n == 0 {
				c.Logger.Warn("no per-thread working directory (unshare(CLONE_FS) refused, e.g. by a seccomp profile): scripts run in the server's directory", "err", err)
			}
		}
		ip, err := pyhost.NewInterp(pyhost.InterpOptions{OwnGIL: ownGIL, Chdir: chdir, Main: main,
			KeepModules: c.KeepModules, KeepGlobals: c.KeepGlobals, Timeout: limit.interp(),
			CGIEscape: c.CGIEscape, Preload: c.Preload, ExtGuard: guard})
		if err != nil {
			return nil, err
		}
		return newEmbeddedInterp(ip, n, c.Logger), nil
	})
	pyhost.TrimMemory() // starting the interpreters compiled and ran much that is freed now
	return pool, err
}

// quietStdio points the process's fd 0 and 1 at /dev/null: a C extension
// or a file descriptor passed on by a script that writes to fd 1 must
// never corrupt the server's own output (COMPAT 33). Scripts' Python-level
// uses of fds 0-2 are routed to their request by the runtime; fd 2 stays
// the server log.
func quietStdio(logger *slog.Logger) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		logger.Warn("cannot open "+os.DevNull, "err", err)
		return
	}
	defer null.Close()
	for _, fd := range []int{0, 1} {
		if err := syscall.Dup2(int(null.Fd()), fd); err != nil {
			logger.Warn("cannot redirect a standard descriptor to "+os.DevNull, "fd", fd, "err", err)
		}
	}
}
