package main

// Isolation flags (--isolation, --isolation-for, --max-memory,
// --max-procs): which backend runs a Python 3 script (internal/backend).
// One cgi-bin may mix them; each mode in use gets its own pool of -w
// workers.

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/server"
)

// isolationConfig is what the isolation flags set.
type isolationConfig struct {
	mode      string
	rules     []string
	maxMemory string
	maxProcs  uint64
}

func addIsolationFlags(fs *pflag.FlagSet, c *isolationConfig) {
	fs.StringVar(&c.mode, "isolation", "auto", "how Python scripts run: auto (each script in a sub-interpreter until it shows it needs more: "+
		"an extension module unsafe in sub-interpreters, ctypes or starting processes move it to process mode, SIGALRM, TZ, fork or setrlimit to fork; "+
		"process and fork start on first use), subinterp (a sub-interpreter per worker thread), "+
		"main (the main interpreter, for C extensions that refuse sub-interpreters; one request at a time), process (a worker process per worker: "+
		"real fds 0-2, chdir, environment, fork and exec, and a crash costs only its request), fork (a fresh fork of a warm template process per request: "+
		"exact CGI semantics, real signals, TZ, rlimits and pristine modules; at most -w at once)")
	fs.StringArrayVar(&c.rules, "isolation-for", nil, "GLOB=MODE: run scripts matching GLOB (path under DIR, or base name) in MODE; "+
		"the first matching rule wins (repeatable)")
	fs.StringVar(&c.maxMemory, "max-memory", "", "a script may allocate at most SIZE (more raises MemoryError, like Apache's RLimitMEM): "+
		"process mode: beyond what its worker process needed to start, and a worker whose resident memory is above SIZE after a request is replaced; "+
		"fork mode: each script's RLIMIT_DATA; subinterp and main: what the request's thread allocates in large blocks and object arenas")
	fs.Uint64Var(&c.maxProcs, "max-procs", 1024, "process mode: RLIMIT_NPROC of the worker processes, a fork-bomb guard: "+
		"the --user account may then have at most this many processes and threads in all, the server's own included "+
		"(the kernel exempts root; 0: no limit); fork mode: each script's, the template keeping the server's)")
}

func (c *isolationConfig) parse(root string) (*backend.Isolation, error) {
	iso, err := backend.ParseIsolation(c.mode, c.rules, root)
	if err != nil {
		return nil, err
	}
	return iso, nil
}

// backendConfig is what the serve flags give the backends (internal/server
// adds what it decides: the pycache after --user, the status page's hooks).
func backendConfig(c *serveConfig, root string) (backend.Config, error) {
	iso, err := c.iso.parse(root)
	if err != nil {
		return backend.Config{}, err
	}
	var maxMemory int64
	if c.iso.maxMemory != "" {
		if maxMemory, err = server.ParseSize(c.iso.maxMemory); err != nil || maxMemory == 0 {
			return backend.Config{}, fmt.Errorf("--max-memory %q: want a size such as 512M", c.iso.maxMemory)
		}
	}
	return backend.Config{
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
		MaxMemory:       maxMemory,
		MaxProcs:        c.iso.maxProcs,
		ShutdownTimeout: c.shutdownTimeout,
	}, nil
}
