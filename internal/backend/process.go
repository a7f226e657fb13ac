package backend

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/procmode"
	"github.com/warmcgi/warmcgi/interp"
)

var _ interp.Interpreter = (*procmode.Slot)(nil)

// process runs Python requests in worker processes (--isolation process):
// an interp pool of procmode Slots, one worker process each.
type process struct {
	pool  *slotPool
	limit timeLimit
	rec   Recorder // nil: none
	mu    sync.Mutex
	slots []*procmode.Slot // every slot the pool made, for reload
}

func newProcess(c *Config) (*process, error) {
	pp, err := procmode.NewPool(procmode.Config{
		Worker: procmode.WorkerConfig{
			PycacheDir: c.PycacheDir,
			Modules:    map[bool]string{true: "keep", false: "purge"}[c.KeepModules],
			Globals:    map[bool]string{true: "keep", false: "fresh"}[c.KeepGlobals],
			CGIEscape:  c.CGIEscape,
			Preload:    c.Preload,
			MaxMemory:  c.MaxMemory,
			MaxProcs:   c.MaxProcs,
		},
		MaxRequests: c.MaxRequests,
		Logger:      c.Logger,
	})
	if err != nil {
		return nil, err
	}
	r := &process{limit: timeLimit(c.Timeout)}
	r.pool, err = newSlotPool(c.Workers, c.queue(), c.QueueTimeout, func(id int) (*procmode.Slot, error) {
		s, err := pp.NewSlot(id)
		if err == nil {
			r.mu.Lock()
			r.slots = append(r.slots, s)
			r.mu.Unlock()
		}
		return s, err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *process) run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error) {
	req, done, err := spooled(req)
	if err != nil {
		return nil, err
	}
	defer done()
	job := jobOf(req, fl, r.limit.process())
	var out *procmode.Output
	var runErr error
	err = r.pool.Do(ctx, func(s *procmode.Slot) {
		if r.rec != nil {
			r.rec.Busy(s.ID(), req.Script)
			defer r.rec.Idle(s.ID())
		}
		out, runErr = s.Run(ctx, job)
	})
	return processOutput(req.Script, "worker process", r.limit, out, err, runErr)
}

// spooled returns req with a streamed body read whole into a file first,
// and what closes that file: a process gets its body as a file (a pipe
// fed while the script runs would need a reader of the client's body
// that outlives the request when the script stops reading early).
func spooled(req *cgienv.Request) (*cgienv.Request, func(), error) {
	if req.StdinStream == nil {
		return req, func() {}, nil
	}
	f, err := cgienv.SpoolBody(req.StdinStream)
	if err != nil {
		return nil, nil, err
	}
	r2 := *req
	r2.StdinStream, r2.StdinFile = nil, f
	return &r2, func() { f.Close() }, nil
}

// processOutput turns what a request in a process (a worker process, or a
// fork: who names it) ended with into the backend's answer: err is the
// pool's, runErr the run's.
func processOutput(script, who string, limit timeLimit, out *procmode.Output, err, runErr error) (*cgienv.Output, error) {
	switch {
	case errors.Is(err, interp.ErrQueueFull):
		return nil, fmt.Errorf("%w: %w", cgienv.ErrOverloaded, err)
	case err != nil:
		return nil, err
	case errors.Is(runErr, procmode.ErrDeadline):
		return nil, timedOut(script, fmt.Sprintf("%s killed after %v", who, limit.process()))
	case runErr != nil:
		return nil, runErr
	}
	res := &cgienv.Output{Stdout: out.Stdout, Stderr: out.Stderr, ExitCode: out.ExitCode, Failure: out.Failure}
	// A process killed after its response began ends it as its output
	// ends, as Apache ends a CGI process's that dies (measured: the last
	// chunk is sent); only a stop at the deadline cuts it (above).
	if out.Signal != 0 && !out.Streamed && !cgienv.HasHeaderBlock(out.Stdout) {
		// No response to pass on: the gateway failed.
		res.Stdout = []byte(badGatewayResponse)
	}
	return res, nil
}

func (r *process) close(ctx context.Context) error { return r.pool.Close(ctx) }

// reload replaces every worker process (SIGHUP): each is retired after
// its current request, and a fresh one, started beforehand, takes over.
func (r *process) reload() {
	r.mu.Lock()
	ss := append([]*procmode.Slot(nil), r.slots...)
	r.mu.Unlock()
	for _, s := range ss {
		go s.Reload()
	}
}

// badGatewayResponse is what a worker that died by a signal before its
// headers were complete answers: the server's own 502 page (Apache's
// wording for a proxy that got no valid response).
const badGatewayResponse = "Status: 502 Bad Gateway\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n" +
	"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>502 Bad Gateway</title>\n" +
	"</head><body>\n<h1>Bad Gateway</h1>\n<p>The script's worker process died before it sent a response.</p>\n" +
	"</body></html>\n"

// jobOf is the job of a request in a process of its own (process and fork
// mode).
func jobOf(req *cgienv.Request, fl shebangFlags, timeout time.Duration) *procmode.Job {
	return &procmode.Job{
		Script: req.Script, Stamp: stampOf(req.Stamp),
		Unbuffered: fl.unbuffered, Optimize: fl.optimize, NoBytecode: fl.noBytecode,
		Env: req.Env, Args: req.Args, Stdin: req.Stdin, StdinFile: req.StdinFile,
		Timeout: timeout, Stream: streamTo(req.Stream),
	}
}

// streamTo adapts a request's Stream function to procmode's (nil: none).
func streamTo(stream func([]byte) cgienv.StreamAnswer) func([]byte) procmode.StreamAnswer {
	if stream == nil {
		return nil
	}
	return func(b []byte) procmode.StreamAnswer {
		switch stream(b) {
		case cgienv.StreamSent:
			return procmode.StreamSent
		case cgienv.StreamKeep:
			return procmode.StreamKeep
		case cgienv.StreamDecline:
			return procmode.StreamDecline
		default:
			return procmode.StreamGone
		}
	}
}
