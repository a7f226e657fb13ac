package main

// Isolation modes (--isolation, --isolation-for): which kind of worker
// runs a Python 3 script. One cgi-bin may mix them; each mode in use gets
// its own pool of -w workers.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/warmcgi/warmcgi/cgienv"
)

// isolationMode names a kind of worker. Its value indexes
// dispatchRunner.backends, so adding a mode is: a constant here, a name
// in modeNames, and a backend built in startBackends.
type isolationMode int

const (
	modeSubinterp isolationMode = iota // a sub-interpreter per worker thread
	modeMain                           // the main interpreter (C extensions that refuse sub-interpreters)
	modeProcess                        // a worker process per worker (full fidelity, crash containment)
	numModes
)

var modeNames = [numModes]string{"subinterp", "main", "process"}

func (m isolationMode) String() string { return modeNames[m] }

func parseMode(s string) (isolationMode, error) {
	for m, name := range modeNames {
		if s == name {
			return isolationMode(m), nil
		}
	}
	return 0, fmt.Errorf("%q: want subinterp, main or process", s)
}

// pyBackend runs embedded Python requests in one isolation mode.
type pyBackend interface {
	run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error)
}

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

// isolationRule is one --isolation-for.
type isolationRule struct {
	glob string
	mode isolationMode
}

// isolation decides each script's mode.
type isolation struct {
	root  string
	def   isolationMode
	rules []isolationRule
	used  [numModes]bool
}

func (c *isolationConfig) parse(root string) (*isolation, error) {
	def, err := parseMode(c.mode)
	if err != nil {
		return nil, fmt.Errorf("--isolation %w", err)
	}
	iso := &isolation{root: root, def: def}
	iso.used[def] = true
	for _, r := range c.rules {
		glob, name, ok := strings.Cut(r, "=")
		if !ok || glob == "" {
			return nil, fmt.Errorf("--isolation-for %q: want GLOB=MODE", r)
		}
		if _, err := filepath.Match(glob, ""); err != nil {
			return nil, fmt.Errorf("--isolation-for %q: %w", r, err)
		}
		m, err := parseMode(name)
		if err != nil {
			return nil, fmt.Errorf("--isolation-for %q: mode %w", r, err)
		}
		iso.rules = append(iso.rules, isolationRule{glob, m})
		iso.used[m] = true
	}
	if c.maxMemory != "" && !iso.used[modeProcess] {
		return nil, fmt.Errorf("--max-memory applies to process mode only (--isolation process or --isolation-for GLOB=process): " +
			"threads of one process cannot have memory limits of their own")
	}
	return iso, nil
}

// modeFor returns the mode a script runs in.
func (iso *isolation) modeFor(script string) isolationMode {
	if iso == nil {
		return modeSubinterp
	}
	for _, r := range iso.rules {
		if globMatch(iso.root, r.glob, script) {
			return r.mode
		}
	}
	return iso.def
}

// globMatch matches a --cgi or --isolation-for glob against a script's
// path under root or its base name.
func globMatch(root, glob, script string) bool {
	rel, err := filepath.Rel(root, script)
	if err != nil {
		rel = script
	}
	if ok, _ := filepath.Match(glob, rel); ok {
		return true
	}
	ok, _ := filepath.Match(glob, filepath.Base(script))
	return ok
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
