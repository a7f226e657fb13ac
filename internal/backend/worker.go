package backend

import (
	"github.com/warmcgi/warmcgi/internal/procmode"
	"github.com/warmcgi/warmcgi/pyhost"
)

// RunWorker is the body of `warmcgi worker CONFIG`, a process-mode worker
// process: procmode sets the process up and speaks to the server, and
// scripts run in the main interpreter made here. It returns nil when the
// server retired the worker, procmode.ErrUsage when no server started it.
func RunWorker(args []string) error {
	return procmode.RunChild(args, startWorkerInterp)
}

// workerInterp runs a worker process's scripts in its one interpreter.
type workerInterp struct {
	ip  *pyhost.Interp
	res pyhost.Result
}

// startWorkerInterp starts Python in a worker process; procmode calls it
// on the locked OS thread that then runs every request.
func startWorkerInterp(cfg procmode.WorkerConfig) (procmode.Executor, error) {
	if err := pyhost.Init(pyhost.Config{PycachePrefix: cfg.PycacheDir}); err != nil {
		return nil, err
	}
	ip, err := pyhost.NewInterp(pyhost.InterpOptions{
		Chdir:       true, // the process is the script's: chdir is real
		KeepModules: cfg.Modules == "keep",
		KeepGlobals: cfg.Globals == "keep",
		CGIEscape:   cfg.CGIEscape,
		Preload:     cfg.Preload,
		RealProcess: true,
		// The process is the script's alone: the main interpreter, as
		// under CGI (C extensions that refuse sub-interpreters load,
		// and os.fork is CPython's own).
		Main: true,
	})
	if err != nil {
		return nil, err
	}
	pyhost.TrimMemory() // starting Python compiled and ran much that is freed now
	return &workerInterp{ip: ip}, nil
}

func (w *workerInterp) Exec(req *procmode.Request, res *procmode.Result) error {
	// The script's C environment is the request's, as execve would give
	// it (children, getenv and C extensions see it).
	if err := pyhost.SetEnviron(req.Env); err != nil {
		return err
	}
	err := w.ip.Exec(&pyhost.Request{Path: req.Path, Stamp: req.Stamp, Env: req.Env, Args: req.Args,
		Unbuffered: req.Unbuffered, Optimize: req.Optimize}, &w.res)
	// What C's stdio still holds was this request's and dies with it, as
	// what a failed flush left in Python's (the runtime's _proc_end):
	// fds 1 and 2 are /dev/null now, the next request's pipes later.
	pyhost.DropCStdio()
	pyhost.TrimWhenIdle()
	*res = procmode.Result{Stdout: w.res.Stdout, Stderr: w.res.Stderr, ExitCode: w.res.ExitCode,
		Failure: w.res.Failure, ThreadsLeft: w.res.ThreadsLeft,
		Retire: pyhost.EnvironKept() > maxEnvironKept}
	return err
}

// maxEnvironKept bounds the environment strings a worker process keeps
// (SetEnviron never frees one C code may hold): past it the worker is
// replaced, as at --max-requests.
const maxEnvironKept = 64 << 20
