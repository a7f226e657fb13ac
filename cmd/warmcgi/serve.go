package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/frontend"
	"github.com/warmcgi/warmcgi/internal/observe"
)

const serveUsage = `Usage: warmcgi serve [flags] DIR

Serves every Python CGI script in DIR at http://ADDR/cgi-bin/NAME[/PATH_INFO],
each compiled once and re-executed per request in a long-lived interpreter.

Flags:
`

// serveConfig is everything the serve flags set.
type serveConfig struct {
	dir             string
	listen          string
	fastcgi         string
	fastcgiUser     bool
	socketMode      string
	socketGroup     string
	prefix          string
	workers         int
	queue           int
	queueTimeout    time.Duration
	maxBody         string
	passEnv         []string
	setEnv          []string
	passAuth        bool
	followSymlinks  bool
	statInterval    time.Duration
	documentRoot    string
	serverAdmin     string
	logFormat       string
	logLevel        string
	shutdownTimeout time.Duration
	pycacheDir      string
	modules         string
	plainCGI        []string
	timeout         time.Duration
	cgiEscape       bool
	preload         []string
	maxRequests     int
	globals         string
	accessLog       string
	accessLogFormat string
	status          string
	statusPublic    bool
	security        securityConfig  // security.go
	iso             isolationConfig // isolation.go
}

func newServeFlags(c *serveConfig, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("warmcgi serve", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.StringVarP(&c.listen, "listen", "l", "127.0.0.1:8080", "address to serve HTTP on: host:port, unix:PATH, or none (FastCGI only)")
	fs.StringVar(&c.fastcgi, "fastcgi", "", "also serve FastCGI (nginx fastcgi_pass, Apache mod_proxy_fcgi) on host:port or unix:PATH")
	fs.BoolVar(&c.fastcgiUser, "fastcgi-remote-user", false, "pass the FastCGI front end's REMOTE_USER and AUTH_TYPE to scripts; only if it authenticates every request (nginx's $remote_user is unchecked without auth_basic)")
	fs.StringVar(&c.socketMode, "socket-mode", defaultSocketMode, "permissions of unix: sockets (octal); a front end must be allowed to write to the socket")
	fs.StringVar(&c.socketGroup, "socket-group", "", "group of unix: sockets, for a front end running as another user (default: the --user account's group)")
	fs.StringVar(&c.prefix, "prefix", "/cgi-bin/", "URL path the scripts are served under")
	fs.IntVarP(&c.workers, "workers", "w", defaultWorkers(), "number of interpreters (worker threads)")
	fs.IntVar(&c.queue, "queue", 0, "requests that may wait for a worker before 503 (0: 4 per worker)")
	fs.DurationVar(&c.queueTimeout, "queue-timeout", 30*time.Second, "longest wait for a worker before 503")
	fs.StringVar(&c.maxBody, "max-body", "1GiB", "largest request body accepted (413 above), like Apache's LimitRequestBody")
	fs.StringArrayVar(&c.passEnv, "pass-env", nil, "pass this variable of the server's environment to scripts (repeatable)")
	fs.StringArrayVar(&c.setEnv, "set-env", nil, "set NAME=VALUE in every script's environment (repeatable)")
	fs.BoolVar(&c.passAuth, "pass-authorization", false, "pass the Authorization header as HTTP_AUTHORIZATION (Apache's CGIPassAuth)")
	fs.BoolVar(&c.followSymlinks, "follow-symlinks", false, "run scripts that are symlinks to files outside DIR")
	fs.DurationVar(&c.statInterval, "stat-interval", time.Second, "how long a script's file is trusted unchanged: an edit, removal or chmod shows within it, a new script at once (0: look at every request)")
	fs.StringVar(&c.documentRoot, "document-root", "", "DOCUMENT_ROOT and the base of PATH_TRANSLATED (default DIR)")
	fs.StringVar(&c.serverAdmin, "server-admin", "", "SERVER_ADMIN given to scripts")
	fs.StringVar(&c.logFormat, "log-format", "text", "server log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "server log level: debug, info, warn or error")
	fs.StringVar(&c.accessLog, "access-log", "", "write an access log line per request to FILE, or to standard output with - (default: none)")
	fs.StringVar(&c.accessLogFormat, "access-log-format", "combined", "access log format: combined (Apache's) or json")
	fs.StringVar(&c.status, "status", "", "serve a status page, /metrics (Prometheus), /healthz and /readyz on this address (loopback only unless --status-public)")
	fs.BoolVar(&c.statusPublic, "status-public", false, "allow --status on an address that is not loopback")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may run after SIGTERM")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "longest a request may run (like Apache's CGIScriptTimeout): then 504, and the script gets an exception (0: no limit)")
	fs.IntVar(&c.maxRequests, "max-requests", 0, "replace a worker (thread and interpreter) after it has served this many requests (0: never)")
	fs.BoolVar(&c.cgiEscape, "cgi-escape", false, "define cgi.escape (removed in Python 3.8) with its old behaviour, for scripts that still call it")
	fs.StringArrayVar(&c.preload, "preload", nil, "import this module in every interpreter when it starts, so requests do not pay for it (a standard-library or installed module; repeatable)")
	fs.StringArrayVar(&c.plainCGI, "cgi", nil, "run scripts matching this glob (path under DIR, or base name) as plain CGI, one process per request (repeatable)")
	fs.StringVar(&c.modules, "modules", "purge", "helper modules imported from the scripts' own trees: purge (dropped after each request, as a fresh CGI process would) or keep (stay loaded; faster, but module state persists)")
	fs.StringVar(&c.globals, "globals", "fresh", "a script's globals: fresh per request, as under CGI, or keep (re-run in the globals of its previous run)")
	fs.StringVar(&c.pycacheDir, "pycache-dir", defaultPycache(), "where bytecode of imported modules is cached, for installed modules that have none of their own (the scripts' own helper modules are cached in memory; empty: none; with --user: under $TMPDIR)")
	addSecurityFlags(fs, &c.security)
	addIsolationFlags(fs, &c.iso)
	// Defaults read off the machine are shown as the rule that makes them,
	// so the help text (and the README made from it) is the same everywhere.
	fs.Lookup("workers").DefValue = "number of CPUs, at least 2"
	fs.Lookup("pycache-dir").DefValue = "$XDG_CACHE_HOME/warmcgi/pycache, or ~/.cache/warmcgi/pycache"
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	return fs
}

func defaultWorkers() int { return max(runtime.NumCPU(), 2) }

// defaultPycache keeps bytecode out of the script directories (a cgi-bin
// should never gain __pycache__ directories the server wrote).
func defaultPycache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "warmcgi", "pycache")
}

func serve(ctx context.Context, release func(), args []string, stdout, stderr io.Writer) int {
	tuneGC()
	var c serveConfig
	fs := newServeFlags(&c, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "warmcgi serve: exactly one DIR is required")
		fs.Usage()
		return exitUsage
	}
	c.dir = fs.Arg(0)
	if c.modules != "purge" && c.modules != "keep" {
		fmt.Fprintf(stderr, "warmcgi serve: --modules %q: want purge or keep\n", c.modules)
		return exitUsage
	}
	if c.globals != "fresh" && c.globals != "keep" {
		fmt.Fprintf(stderr, "warmcgi serve: --globals %q: want fresh or keep\n", c.globals)
		return exitUsage
	}
	logger, err := newLogger(stderr, c.logFormat, c.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi serve: %v\n", err)
		return exitUsage
	}
	h, err := newHandler(&c, logger)
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi serve: %v\n", err)
		return exitUsage
	}
	iso, err := c.iso.parse(h.Root)
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi serve: %v\n", err)
		return exitUsage
	}
	var maxMemory int64
	if c.iso.maxMemory != "" {
		if maxMemory, err = parseSize(c.iso.maxMemory); err != nil || maxMemory == 0 {
			fmt.Fprintf(stderr, "warmcgi serve: --max-memory %q: want a size such as 512M\n", c.iso.maxMemory)
			return exitUsage
		}
	}
	if err := c.security.prepare(h.Root); err != nil {
		fmt.Fprintf(stderr, "warmcgi serve: %v\n", err)
		return exitUsage
	}
	c.security.configureHandler(h)
	// Opened before privileges are dropped, as Apache opens its logs.
	alog, err := observe.OpenAccessLog(c.accessLog, c.accessLogFormat, stdout, logger)
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi serve: %v\n", err)
		return exitUsage
	}
	if c.listen == noListen && c.fastcgi == "" {
		fmt.Fprintln(stderr, "warmcgi serve: --listen none needs --fastcgi: there would be nothing to serve")
		return exitUsage
	}
	sock, err := socketOptionsFor(&c)
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi serve: %v\n", err)
		return exitUsage
	}
	if alog != nil {
		defer alog.Close()
	}
	var stats *observe.Metrics
	if c.status != "" {
		stats = observe.NewMetrics(h.Root, h.Prefix)
	}
	h.Observe = observe.Hook(alog, stats)
	if alog != nil {
		// The access log records every request: the log's own record of
		// each is then Debug (--log-level debug shows it).
		h.RequestLogLevel = slog.LevelDebug
	}

	// Bind first, then give up root (--user), then start Python.
	var ln, fln net.Listener // HTTP, FastCGI; nil when off
	closeListeners := func() {
		for _, l := range []net.Listener{ln, fln} {
			if l != nil {
				l.Close()
			}
		}
	}
	if c.listen != noListen {
		if ln, err = frontend.Listen(c.listen, sock, logger); err != nil {
			logger.Error("listen", "err", err)
			return exitStartup
		}
		ln = c.security.listen(ln, logger)
	}
	if c.fastcgi != "" {
		if fln, err = frontend.Listen(c.fastcgi, sock, logger); err != nil {
			logger.Error("listen", "fastcgi", c.fastcgi, "err", err)
			closeListeners()
			return exitStartup
		}
		frontend.WarnOpenFastCGI(c.fastcgi, logger)
		// Each listener has its own --max-connections.
		fln = c.security.listen(fln, logger)
	}
	var statusLn net.Listener
	if c.status != "" {
		if statusLn, err = observe.ListenStatus(c.status, c.statusPublic); err != nil {
			closeListeners()
			if errors.Is(err, observe.ErrStatusNotLoopback) {
				fmt.Fprintf(stderr, "warmcgi serve: %v\n", err)
				return exitUsage
			}
			logger.Error("status", "err", err)
			return exitStartup
		}
		defer statusLn.Close()
	}
	if err := c.security.dropPrivileges(h.Root, logger); err != nil {
		logger.Error("dropping privileges", "err", err)
		closeListeners()
		return exitStartup
	}
	if c.pycacheDir, err = c.security.pycacheDir(c.pycacheDir, fs.Changed("pycache-dir"), logger); err != nil {
		logger.Error("bytecode cache", "err", err)
		closeListeners()
		return exitStartup
	}

	// Worker processes start after the privilege drop, so they run as
	// --user too.
	backends, err := backend.New(backendConfig(&c, h.Root, iso, maxMemory, stats, logger))
	if err != nil {
		closeListeners()
		return exitStartup
	}
	// SIGHUP replaces every worker, each after its current request.
	reloadOnHUP(ctx, logger, func() { backends.Reload(ctx) })
	h.Runner = backends
	ownGIL := backend.OwnGIL()

	var handler http.Handler = h
	var statusSrv *http.Server
	if stats != nil {
		handler = stats.CountInFlight(h)
		mode := fmt.Sprintf("gil=%s modules=%s globals=%s timeout=%s max-requests=%d",
			map[bool]string{true: "own", false: "shared"}[ownGIL], c.modules, c.globals, c.timeout, c.maxRequests)
		statusSrv = observe.NewStatusServer(stats, observe.StatusInfo{Python: oneLine(backend.PythonVersion()), Mode: mode}, logger)
		go statusSrv.Serve(statusLn) // ends with ShutdownStatus
		defer observe.ShutdownStatus(statusSrv)
	}
	srv := &http.Server{
		Handler:  handler,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Slow clients must not hold connections (and workers) forever:
	// header timeout, idle timeout and header size limit, from the flags.
	c.security.configureServer(srv)
	logger.Info("warmcgi started", "python", oneLine(backend.PythonVersion()), "workers", c.workers,
		"gil", map[bool]string{true: "own", false: "shared"}[ownGIL], "isolation", c.iso.mode, "dir", h.Root)
	errc := make(chan error, 2)
	if ln != nil {
		if path := frontend.SocketPath(c.listen); path != "" {
			logger.Info("listening", "socket", path)
		} else {
			logger.Info("listening", "url", "http://"+ln.Addr().String()+"/")
		}
		go func() { errc <- srv.Serve(ln) }()
	}
	fsrv := frontend.NewFastCGIServer(handler, c.fastcgiUser, logger)
	if fln != nil {
		logger.Info("fastcgi listening", "addr", fln.Addr().String())
		go func() { errc <- fsrv.Serve(fln) }()
	}
	if stats != nil {
		logger.Info("status page", "url", "http://"+statusLn.Addr().String()+"/")
		stats.SetReady(true)
	}
	select {
	case err := <-errc:
		logger.Error("serve", "err", err)
		closeListeners()
		backends.Close()
		return exitStartup
	case <-ctx.Done():
	}
	if release != nil {
		release() // a second signal now ends the process at once
	}
	if stats != nil {
		stats.SetReady(false) // /readyz answers 503 while in-flight requests drain
	}
	logger.Info("shutting down", "timeout", c.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	// Both listeners stop accepting at once, then drain.
	shutdowns := make(chan error, 2)
	if ln != nil {
		go func() { shutdowns <- srv.Shutdown(sctx) }()
	}
	if fln != nil {
		go func() { shutdowns <- fsrv.Shutdown(sctx) }()
	}
	for _, l := range []net.Listener{ln, fln} {
		if l == nil {
			continue
		}
		if err := <-shutdowns; err != nil {
			logger.Warn("in-flight requests did not finish in time", "err", err)
		}
	}
	backends.Close()
	logger.Info("stopped")
	return exitOK
}

// serveGCPercent is the Go garbage collector's target (GOGC) of a server
// started without GOGC in its environment. The server's own live heap is
// about 1 MiB, so at Go's default (100) a collection starts every 4 MiB
// allocated: 40 a second at 20k requests a second, each taking a quarter
// of the two cores' Go time while it marks. At 400 the heap may grow to
// about 16 MiB (beside interpreters of 10 MiB each) and collections are a
// quarter as frequent (README, Performance).
const serveGCPercent = 400

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

func newHandler(c *serveConfig, logger *slog.Logger) (*cgienv.Handler, error) {
	dir, err := filepath.Abs(c.dir)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	maxBody, err := parseSize(c.maxBody)
	if err != nil {
		return nil, fmt.Errorf("--max-body: %w", err)
	}
	for _, kv := range c.setEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("--set-env %q: want NAME=VALUE", kv)
		}
	}
	prefix := "/" + strings.Trim(c.prefix, "/") + "/"
	docRoot := c.documentRoot
	if docRoot == "" {
		docRoot = dir
	}
	return &cgienv.Handler{
		Root:              dir,
		Prefix:            prefix,
		DocumentRoot:      docRoot,
		Logger:            logger,
		PassEnv:           c.passEnv,
		SetEnv:            c.setEnv,
		PassAuthorization: c.passAuth,
		FollowSymlinks:    c.followSymlinks,
		StatInterval:      c.statInterval,
		MaxBody:           maxBody,
		ServerSoftware:    "warmcgi",
		ServerAdmin:       c.serverAdmin,
		StreamBodies:      true, // every runner here takes Request.StdinStream
	}, nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// parseSize reads "1048576", "64K", "10MiB", "1G" (binary multiples).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		case 'T':
			mult, t = 1<<40, t[:n-1]
		}
	}
	var n int64
	if _, err := fmt.Sscan(t, &n); err != nil || n < 0 || fmt.Sprint(n) != t {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
