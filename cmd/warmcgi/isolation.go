package main

// Isolation flags (--isolation, --isolation-for, --max-memory,
// --max-procs): which backend runs a Python 3 script (internal/backend).
// One cgi-bin may mix them; each mode in use gets its own pool of -w
// workers.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/observe"
)

// isolationConfig is what the isolation flags set.
type isolationConfig struct {
	mode      string
	rules     []string
	maxMemory string
	maxProcs  uint64
}

func addIsolationFlags(fs *pflag.FlagSet, c *isolationConfig) {
	fs.StringVar(&c.mode, "isolation", "subinterp", "how Python scripts run: subinterp (a sub-interpreter per worker thread), "+
		"main (the main interpreter, for C extensions that refuse sub-interpreters; one request at a time) or process (a worker process per worker: "+
		"real fds 0-2, chdir, environment, fork and exec, and a crash costs only its request)")
	fs.StringArrayVar(&c.rules, "isolation-for", nil, "GLOB=MODE: run scripts matching GLOB (path under DIR, or base name) in MODE; "+
		"the first matching rule wins (repeatable)")
	fs.StringVar(&c.maxMemory, "max-memory", "", "process mode only: a script may allocate at most SIZE beyond what its worker "+
		"process needed to start (more raises MemoryError, like Apache's RLimitMEM), and a worker whose resident memory is "+
		"above SIZE after a request is replaced")
	fs.Uint64Var(&c.maxProcs, "max-procs", 1024, "process mode: RLIMIT_NPROC of the worker processes, a fork-bomb guard: "+
		"the --user account may then have at most this many processes and threads in all, the server's own included "+
		"(the kernel exempts root; 0: no limit)")
}

func (c *isolationConfig) parse(root string) (*backend.Isolation, error) {
	iso, err := backend.ParseIsolation(c.mode, c.rules, root)
	if err != nil {
		return nil, err
	}
	if c.maxMemory != "" && !iso.UsesProcess() {
		return nil, fmt.Errorf("--max-memory applies to process mode only (--isolation process or --isolation-for GLOB=process): " +
			"threads of one process cannot have memory limits of their own")
	}
	return iso, nil
}

// reloadOnHUP restarts the process-mode workers on SIGHUP, without
// dropping requests: each new worker process starts before the old one
// is retired after its current request.
func reloadOnHUP(ctx context.Context, logger *slog.Logger, reloads ...func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: restarting workers")
				for _, reload := range reloads {
					reload()
				}
			}
		}
	}()
}

// backendConfig is what the serve flags give the backends.
func backendConfig(c *serveConfig, root string, iso *backend.Isolation, maxMemory int64, stats *observe.Metrics, logger *slog.Logger) backend.Config {
	bc := backend.Config{
		Root:            root,
		Isolation:       iso,
		CGI:             c.plainCGI,
		Workers:         c.workers,
		Queue:           c.queue,
		QueueTimeout:    c.queueTimeout,
		MaxRequests:     c.maxRequests,
		Timeout:         c.timeout,
		KeepModules:     c.modules == "keep",
		KeepGlobals:     c.globals == "keep",
		CGIEscape:       c.cgiEscape,
		Preload:         c.preload,
		PycacheDir:      c.pycacheDir,
		MaxMemory:       maxMemory,
		MaxProcs:        c.iso.maxProcs,
		ShutdownTimeout: c.shutdownTimeout,
		User:            c.security.user,
		Logger:          logger,
	}
	if stats != nil {
		bc.Observe = func(mode string, pool backend.PoolStats, size int) backend.Recorder {
			return stats.AddSource(mode, pool, size)
		}
	}
	return bc
}
