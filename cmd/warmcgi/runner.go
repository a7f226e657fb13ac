package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/observe"
	"github.com/warmcgi/warmcgi/interp"
	"github.com/warmcgi/warmcgi/pyhost"
)

// worker is what each pool thread owns: its interpreter and the buffers it
// reuses to build the C-side request blocks.
type worker struct {
	id   int // the pool's worker number
	ip   *pyhost.Interp
	log  *slog.Logger
	env  []byte
	args []byte
	// cur is the running request's Stream; stream, bound once, passes
	// its chunks on, so a request allocates no adapter.
	cur    func([]byte) cgienv.StreamAnswer
	stream func([]byte) pyhost.StreamAnswer
	// req is the running request, for abandonJob on the pool's watch
	// goroutine.
	req atomic.Pointer[cgienv.Request]
}

func newWorker(ip *pyhost.Interp, id int, logger *slog.Logger) *worker {
	w := &worker{ip: ip, id: id, log: logger}
	w.stream = func(b []byte) pyhost.StreamAnswer { return pyhost.StreamAnswer(w.cur(b)) }
	return w
}

// Close ends the worker's interpreter. One that a script's thread still
// runs in is left as it is, with its memory: that is said in the log, not
// reported as a failure (the worker is gone all the same).
func (w *worker) Close() error {
	err := w.ip.Close()
	if errors.Is(err, pyhost.ErrLeftRunning) {
		w.log.Warn("interpreter left running, with its memory, until the server restarts: a thread a script started still runs in it",
			"worker", w.id)
		return nil
	}
	return err
}

// abandonGrace is how long after --timeout a script that has not ended
// (it caught the exception that stops it, and the ones repeated each
// second after it, or it is blocked in C) is given up on: its client is
// answered and its interpreter left to it, a new one taking its place.
const abandonGrace = 2 * time.Second

// abandonJob is interp.Options.Abandon: the client of the request that
// overran is answered now, and the script's thread is parked for good, so
// that it holds neither a core nor the GIL other interpreters may share.
// Its interpreter is never used again, even where no other took its place
// (main mode): a script that swallows every exception would otherwise
// slow every request of the server.
func abandonJob(ip interp.Interpreter, _ bool) {
	w := ip.(*worker)
	w.ip.Park()
	if req := w.req.Load(); req != nil {
		req.Abandon()
	}
}

var _ interp.Interpreter = (*worker)(nil)

// pyRunner runs cgienv requests on the interpreter pool.
type pyRunner struct {
	pool   *interp.Pool[*worker]
	logger *slog.Logger
	stats  *observe.Tracker // nil without --status
}

var _ cgienv.Runner = (*pyRunner)(nil)

func (r *pyRunner) Run(ctx context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	return r.run(ctx, req, shebangFlags{})
}

// run runs a request with the script's shebang flags (-u, -O).
func (r *pyRunner) run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error) {
	var res pyhost.Result
	var execErr error
	err := r.pool.Do(ctx, func(w *worker) {
		if r.stats != nil {
			r.stats.Busy(w.id, req.Script)
			defer r.stats.Idle(w.id)
		}
		w.env = appendBlock(w.env[:0], req.Env)
		w.args = appendBlock(w.args[:0], req.Args)
		var stream func([]byte) pyhost.StreamAnswer
		if req.Stream != nil {
			w.cur, stream = req.Stream, w.stream
			defer func() { w.cur = nil }()
		}
		w.req.Store(req)
		defer w.req.Store(nil)
		execErr = w.ip.Exec(&pyhost.Request{
			Path:  req.Script,
			Stamp: [4]int64{req.Stamp.MtimeNs, req.Stamp.Size, int64(req.Stamp.Ino), int64(req.Stamp.Dev)},
			Env:   w.env,
			Args:  w.args,
			Body:  req.Stdin,

			BodyFile: req.StdinFile,

			BodyReader: req.StdinStream,

			Unbuffered: fl.unbuffered,
			Optimize:   fl.optimize,
			Stream:     stream,
		}, &res)
	})
	switch {
	case errors.Is(err, interp.ErrQueueFull):
		return nil, fmt.Errorf("%w: %w", cgienv.ErrOverloaded, err)
	case err != nil:
		return nil, err
	case execErr != nil:
		return nil, execErr
	}
	if r.stats != nil && res.Compiled != pyhost.CompileNone {
		r.stats.Compiled(req.Script, res.Compiled == pyhost.CompileReload)
	}
	if res.TimedOut {
		// The handler logs the stderr line by line, as for any script.
		return &cgienv.Output{Stderr: res.Stderr}, fmt.Errorf("%s: %s: %w", req.Script, res.Failure, context.DeadlineExceeded)
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
	}, nil
}

// appendBlock appends "s\x00" for each s: the form pyhost takes.
func appendBlock(b []byte, ss []string) []byte {
	for _, s := range ss {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}
