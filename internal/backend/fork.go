package backend

import (
	"context"
	"os"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/procmode"
	"github.com/warmcgi/warmcgi/interp"
	"github.com/warmcgi/warmcgi/pyhost"
)

// fork runs Python requests in a fresh fork of a template process each
// (--isolation fork): exact CGI semantics without exec and imports. At
// most -w children run at once; more requests wait in the interp pool's
// queue (--queue, --queue-timeout), as in the other modes.
type fork struct {
	fs    *procmode.ForkServer
	pool  *interp.Pool[forkSlot]
	limit timeLimit
	rec   Recorder // nil: none
}

// forkSlot is a place for one running child; it owns nothing.
type forkSlot struct{ id int }

func (forkSlot) Close() error { return nil }

func newFork(c *Config) (*fork, error) {
	ft := pyhost.NewForkTemplate(pyhost.Config{PycachePrefix: c.PycacheDir})
	if ft.PycacheDir != "" {
		if err := os.MkdirAll(ft.PycacheDir, 0o700); err != nil {
			return nil, err
		}
	}
	fs, err := procmode.NewForkServer(procmode.ForkConfig{Source: ft.Source, Pylib: ft.Pylib,
		Program: ft.Program, PycacheDir: ft.PycacheDir, MaxMemory: c.MaxMemory, MaxProcs: c.MaxProcs, Logger: c.Logger})
	if err != nil {
		return nil, err
	}
	r := &fork{fs: fs, limit: timeLimit(c.Timeout)}
	r.pool, err = interp.New(interp.Options{
		Workers:      c.Workers,
		QueueSize:    c.queue(),
		QueueTimeout: c.QueueTimeout,
		Logger:       c.Logger,
	}, func(id int) (forkSlot, error) { return forkSlot{id}, nil })
	if err != nil {
		fs.Close()
		return nil, err
	}
	return r, nil
}

func (r *fork) run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error) {
	req, done, err := spooled(req)
	if err != nil {
		return nil, err
	}
	defer done()
	job := jobOf(req, fl, r.limit.process())
	var out *procmode.Output
	var runErr error
	err = r.pool.Do(ctx, func(s forkSlot) {
		if r.rec != nil {
			r.rec.Busy(s.id, req.Script)
			defer r.rec.Idle(s.id)
		}
		out, runErr = r.fs.Run(ctx, job)
	})
	return processOutput(req.Script, "script process", r.limit, out, err, runErr)
}

func (r *fork) close(ctx context.Context) error {
	err := r.pool.Close(ctx)
	r.fs.Close()
	return err
}
