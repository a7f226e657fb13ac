package backend

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/interp"
	"github.com/warmcgi/warmcgi/pyhost"
)

// DefaultQueue is how many requests may wait for a worker of one mode's
// pool when --queue is not given. A burst waits and is served, as Apache
// lets one wait in its listen backlog, and gets 503 only after
// --queue-timeout; the bound is there for memory only: a waiting request
// holds its connection's buffers, environment and at most 64 KiB of body
// (larger bodies stream), under 100 KiB (1000 waiting GETs measured 24 KiB
// each), so 1024 of them stay under 100 MiB. (It was 4 per worker: 8 in all with -w 2, which turned away a
// burst of 16 slow requests at once.)
const DefaultQueue = 1024

// Config is what the backends are built from; the serve flags fill it. A
// zero field means the flag's "none" (no timeout, no limit, nothing kept).
type Config struct {
	Root      string     // DIR: --cgi and --isolation-for globs match paths under it
	Isolation *Isolation // which mode runs each Python 3 script; nil: subinterp
	CGI       []string   // --cgi globs: scripts run as plain CGI
	Workers   int        // -w: interpreters, or worker processes, per mode
	Queue     int        // --queue (0: DefaultQueue)
	// QueueTimeout is the longest wait for a worker (--queue-timeout).
	QueueTimeout time.Duration
	MaxRequests  int           // --max-requests (0: never replace)
	Timeout      time.Duration // --timeout, the request's time limit (0: none)
	KeepModules  bool          // --modules keep
	KeepGlobals  bool          // --globals keep
	CGIEscape    bool          // --cgi-escape
	Preload      []string      // --preload
	PycacheDir   string        // --pycache-dir, after --user's adjustment
	MaxMemory    int64         // --max-memory, every mode (0: none)
	MaxProcs     uint64        // --max-procs, process mode (0: unchanged)
	// ShutdownTimeout is how long Close gives each backend's requests.
	ShutdownTimeout time.Duration
	// User is the --user account, named in the hint when Python cannot
	// start.
	User   string
	Logger *slog.Logger
	// Observe, when set, is told of each worker pool as it starts (its
	// isolation mode's name, its figures and its size) and gives back the
	// Recorder that pool's requests report to; nil: nothing is recorded.
	Observe func(mode string, pool PoolStats, size int) Recorder
}

// Recorder follows what a pool's workers do, for the status page.
type Recorder interface {
	Busy(worker int, script string) // worker started running script
	Idle(worker int)                // worker finished its request
	// Compiled: a worker compiled script, for the first time or (reload)
	// because the file changed.
	Compiled(script string, reload bool)
}

// PoolStats are a worker pool's figures, for metrics and the status page.
type PoolStats interface {
	Stats() interp.Stats
	Workers(buf []interp.WorkerStats) []interp.WorkerStats
}

// Dispatcher runs every request of the server (a cgienv.Runner) on the
// backends New started, and stops and reloads them.
type Dispatcher struct {
	d        *dispatcher
	logger   *slog.Logger
	pool     *interp.Pool[*embeddedInterp] // subinterp, or nil
	mainPool *interp.Pool[*embeddedInterp] // main, or nil
	procs    *process                      // process, or nil
	forks    *fork                         // fork, or nil
	auto     *autoBackend                  // auto, or nil
	shutdown time.Duration
	cfg      Config     // for the backends started on first use (start)
	mu       sync.Mutex // guards procs, forks and closed once requests run
	closed   bool
}

// Run runs one request on the backend its script needs.
func (b *Dispatcher) Run(ctx context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	return b.d.Run(ctx, req)
}

// New starts the backends the isolation modes in use need: worker
// processes first (after a privilege drop they run as --user too), then
// Python and the interpreter pools. What fails is logged and what started
// is stopped again.
func New(c Config) (*Dispatcher, error) {
	limit := timeLimit(c.Timeout)
	b := &Dispatcher{logger: c.Logger, shutdown: c.ShutdownTimeout}
	b.d = &dispatcher{iso: c.Isolation, cgi: plainCGI{limit: limit}, root: c.Root, plain: c.CGI, maxKeep: 4096}
	b.cfg = c
	for _, m := range []mode{modeProcess, modeFork} {
		if c.Isolation.uses(m) && !c.Isolation.onlyAuto(m) {
			be, err := b.start(m)
			if err != nil {
				b.Close()
				return nil, err
			}
			b.d.backends[m] = be
		}
	}
	var err error
	if c.Isolation.uses(modeSubinterp) || c.Isolation.uses(modeMain) {
		if err := pyhost.Init(pyhost.Config{PycachePrefix: c.PycacheDir, MaxMemory: c.MaxMemory}); err != nil {
			if c.User != "" {
				// The usual cause: a Python installed where the dropped user
				// cannot read its standard library (a home directory, say).
				c.Logger.Error("python", "err", err, "hint", "can user "+c.User+" read the standard library of "+pyhost.Origin()+"?")
			} else {
				c.Logger.Error("python", "err", err)
			}
			b.Close()
			return nil, err
		}
		quietStdio(c.Logger)
	}
	if c.Isolation.uses(modeSubinterp) {
		// Only auto judges extension modules: an explicit subinterp
		// loads them as before.
		var guard func(module, path string) string
		if c.Isolation.uses(modeAuto) {
			guard = newExtJudge(pyhost.OwnGILSupported()).reason
		}
		if b.pool, err = newEmbeddedPool(&c, c.Workers, false, guard); err != nil {
			c.Logger.Error("starting workers", "err", err)
			b.Close()
			return nil, err
		}
		b.d.backends[modeSubinterp] = &embedded{pool: b.pool, logger: c.Logger, rec: c.observe("subinterp", b.pool, c.Workers)}
	}
	if c.Isolation.uses(modeMain) {
		// The main interpreter runs one request at a time, whatever the
		// number of workers, so main mode has one (README: modes).
		if b.mainPool, err = newEmbeddedPool(&c, 1, true, nil); err != nil {
			c.Logger.Error("starting the main-interpreter worker", "err", err)
			b.Close()
			return nil, err
		}
		b.d.backends[modeMain] = &embedded{pool: b.mainPool, logger: c.Logger, rec: c.observe("main", b.mainPool, 1)}
	}
	if c.Isolation.uses(modeAuto) {
		// auto moves CPU-bound scripts to worker processes where the
		// sub-interpreters share a GIL (auto.go, cpuRouteAt).
		cpuRoute := !pyhost.OwnGILSupported() && c.Workers > 1
		b.auto = &autoBackend{sub: b.d.backends[modeSubinterp].(*embedded), logger: c.Logger, cpuRoute: cpuRoute}
		for _, m := range []mode{autoExtTarget, autoExactTarget} {
			if c.Isolation.onlyAuto(m) {
				b.auto.targets[m] = &lazyBackend{b: b, m: m}
			} else {
				b.auto.targets[m] = b.d.backends[m]
			}
		}
		b.d.backends[modeAuto] = b.auto
	}
	return b, nil
}

// start starts the process or fork backend (m) unless it runs already,
// and returns it. The modes only auto moves scripts to start on the first
// request moved there (lazyBackend): a server whose scripts all suit
// sub-interpreters never starts worker processes or a fork template.
func (b *Dispatcher) start(m mode) (pyBackend, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	c := &b.cfg
	switch {
	case m == modeProcess && b.procs == nil:
		p, err := newProcess(c)
		if err != nil {
			c.Logger.Error("starting worker processes", "err", err)
			return nil, err
		}
		p.rec = c.observe("process", p.pool, c.Workers)
		b.procs = p
	case m == modeFork && b.forks == nil:
		f, err := newFork(c)
		if err != nil {
			c.Logger.Error("starting the fork template", "err", err)
			return nil, err
		}
		f.rec = c.observe("fork", f.pool, c.Workers)
		b.forks = f
	}
	if m == modeProcess {
		return b.procs, nil
	}
	return b.forks, nil
}

// errClosed answers a request that would start a backend after Close.
var errClosed = errors.New("the server is shutting down")

// lazyBackend is a mode auto moves scripts to, started on its first
// request (Dispatcher.start); a start that fails fails that request, and
// the next one tries again. Once started, requests go straight to it.
type lazyBackend struct {
	b       *Dispatcher
	m       mode
	started atomic.Pointer[pyBackend]
}

func (l *lazyBackend) run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error) {
	if be := l.started.Load(); be != nil {
		return (*be).run(ctx, req, fl)
	}
	be, err := l.b.start(l.m)
	if err != nil {
		return nil, err
	}
	l.started.Store(&be)
	return be.run(ctx, req, fl)
}

// AutoDecisions returns the scripts --isolation auto has moved out of
// subinterp, with the mode each runs in and why, by path (none without
// auto). For the status page.
func (b *Dispatcher) AutoDecisions() []AutoDecision {
	if b.auto == nil {
		return nil
	}
	return b.auto.decisions()
}

// observe registers a pool with c.Observe and returns its Recorder (nil
// without one).
func (c *Config) observe(mode string, pool PoolStats, size int) Recorder {
	if c.Observe == nil {
		return nil
	}
	return c.Observe(mode, pool, size)
}

// Reload replaces every worker (SIGHUP), each after its current request,
// one at a time, so requests keep being served (new code in the
// interpreters' imports, a leak cleared). The main interpreter lives as
// long as the process: main mode has nothing to restart. ctx is the
// server's: once it ends, a failed restart is not worth a warning.
func (b *Dispatcher) Reload(ctx context.Context) {
	b.mu.Lock()
	procs, forks := b.procs, b.forks
	b.mu.Unlock()
	if procs != nil {
		procs.reload()
	}
	if forks != nil {
		go forks.fs.Reload()
	}
	if pl := b.pool; pl != nil {
		go func() {
			if err := pl.Restart(ctx); err != nil && !errors.Is(err, interp.ErrClosed) && ctx.Err() == nil {
				b.logger.Warn("restarting workers", "err", err)
			}
		}()
	}
}

// Close stops every backend, giving the requests they run up to
// Config.ShutdownTimeout in all.
func (b *Dispatcher) Close() { b.CloseBy(time.Now().Add(b.shutdown)) }

// CloseBy stops every backend, giving the requests they run until
// deadline: the server's drain passes its own, so that --shutdown-timeout
// bounds the whole shutdown, not each step of it. Later calls do nothing.
func (b *Dispatcher) CloseBy(deadline time.Time) {
	b.mu.Lock()
	was := b.closed
	b.closed = true
	b.mu.Unlock()
	if was {
		return
	}
	for _, pl := range []*interp.Pool[*embeddedInterp]{b.pool, b.mainPool} {
		if pl == nil {
			continue
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		if err := pl.Close(ctx); err != nil {
			b.logger.Warn("workers did not stop in time", "err", err)
		}
		cancel()
	}
	if b.procs != nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		if err := b.procs.close(ctx); err != nil {
			b.logger.Warn("worker processes did not stop in time", "err", err)
		}
		cancel()
	}
	if b.forks != nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		if err := b.forks.close(ctx); err != nil {
			b.logger.Warn("fork-mode requests did not end in time", "err", err)
		}
		cancel()
	}
}

// PythonVersion is the embedded Python's version line ("" when it cannot
// be read).
func PythonVersion() (v string) {
	defer func() { _ = recover() }()
	return pyhost.Version()
}

// PythonLinked says how the binary holds libpython (`warmcgi version`):
// linked into it (pyhost/pylink.sh), or the shared library's file.
func PythonLinked() string {
	if pyhost.Static() {
		return "static libpython, in this binary"
	}
	if lib := pyhost.LibraryPath(); lib != "" {
		return "shared libpython, " + lib
	}
	return "shared libpython"
}

// OwnGIL reports whether sub-interpreters get a GIL each (Python 3.13+).
func OwnGIL() bool { return pyhost.OwnGILSupported() }

// RuntimeSpecifics names what the runtime does differently on the linked
// Python (`warmcgi version`): how it watches module state (dict versions on
// 3.11, dict watchers from 3.12), and 3.14's __main__ (PEP 649).
func RuntimeSpecifics() string {
	var s string
	switch {
	case pyhost.DictWatch():
		s = "module state watched through dict watchers (Python 3.12+)"
	case pyhost.DictVersions():
		s = "module state watched through dict versions (PEP 509, Python < 3.12)"
	default:
		s = "module state watched by comparing dicts"
	}
	if !pyhost.DictVersions() {
		s += "; __main__ without __annotations__ (PEP 649, 3.14+)"
	}
	return s
}

// Backend is what the server needs of its backends: run each request
// (cgienv.Runner), replace the workers on SIGHUP, stop them at shutdown.
// Dispatcher is the server's.
type Backend interface {
	cgienv.Runner
	Reload(ctx context.Context)
	Close()
}

var _ Backend = (*Dispatcher)(nil)

// queue is the --queue a pool is given.
func (c *Config) queue() int {
	if c.Queue <= 0 {
		return DefaultQueue
	}
	return c.Queue
}
