package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/frontend"
	"github.com/warmcgi/warmcgi/internal/server"
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
	tlsCert         string
	tlsKey          string
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
	static          string // --static: a document root beside the scripts
	staticListing   bool
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
	security        server.Security // security.go
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
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS (and HTTP/2) on --listen with the PEM certificate (and chain) in `FILE`; needs --tls-key; read again on SIGHUP")
	fs.StringVar(&c.tlsKey, "tls-key", "", "the PEM private key of --tls-cert, in `FILE`; read at start before --user applies, and on SIGHUP as --user")
	fs.StringVar(&c.prefix, "prefix", "/cgi-bin/", "URL path the scripts are served under")
	fs.IntVarP(&c.workers, "workers", "w", defaultWorkers(), "number of interpreters (worker threads)")
	fs.IntVar(&c.queue, "queue", 0, "requests that may wait for a worker of one mode before 503 (0: 1024); each waits at most --queue-timeout")
	fs.DurationVar(&c.queueTimeout, "queue-timeout", 30*time.Second, "longest wait for a worker before 503")
	fs.StringVar(&c.maxBody, "max-body", "1GiB", "largest request body accepted (413 above), like Apache's LimitRequestBody")
	fs.StringArrayVar(&c.passEnv, "pass-env", nil, "pass this variable of the server's environment to scripts (repeatable)")
	fs.StringArrayVar(&c.setEnv, "set-env", nil, "set NAME=VALUE in every script's environment (repeatable)")
	fs.BoolVar(&c.passAuth, "pass-authorization", false, "pass the Authorization header as HTTP_AUTHORIZATION (Apache's CGIPassAuth)")
	fs.BoolVar(&c.followSymlinks, "follow-symlinks", false, "run scripts that are symlinks to files outside DIR")
	fs.DurationVar(&c.statInterval, "stat-interval", time.Second, "longest a script's file is trusted unchanged; with inotify on DIR (logged at start) an edit, removal or chmod shows at the next request, without it every request looks (0: look at every request)")
	fs.StringVar(&c.static, "static", "", "also serve the files of this directory at every path outside --prefix (index.html, If-Modified-Since, ranges), "+
		"as Apache's DocumentRoot beside a ScriptAlias; a script's source is never served, nor a link leaving it, nor hidden files")
	fs.BoolVar(&c.staticListing, "static-listing", false, "list --static directories that have no index.html, as python3 -m http.server does (default: 403, as Apache without Options Indexes)")
	fs.StringVar(&c.documentRoot, "document-root", "", "DOCUMENT_ROOT and the base of PATH_TRANSLATED (default: the --static directory, else DIR)")
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
	fs.StringVar(&c.pycacheDir, "pycache-dir", server.DefaultPycacheDir(), "where bytecode of imported modules is cached, for installed modules that have none of their own (the scripts' own helper modules are cached in memory; empty: none; with --user: under $TMPDIR)")
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

func serve(ctx context.Context, release func(), args []string, stdout, stderr io.Writer) int {
	server.TuneGC()
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
	cfg, err := serverConfig(&c, fs, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi serve: %v\n", err)
		return exitUsage
	}
	return runServer(ctx, release, cfg, "serve", stderr)
}

// runServer starts the server cmd configured and serves until ctx ends.
func runServer(ctx context.Context, release func(), cfg server.Config, cmd string, stderr io.Writer) int {
	srv, err := server.New(cfg)
	var ue *server.UsageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "warmcgi %s: %v\n", cmd, ue.Err)
		return exitUsage
	case err != nil:
		return exitStartup // logged by server.New
	}
	if release != nil {
		context.AfterFunc(ctx, release) // a second signal then ends the process at once
	}
	if srv.Serve(ctx) != nil {
		return exitStartup
	}
	return exitOK
}

// serverConfig checks the flags' syntax and turns them into the server's
// configuration.
func serverConfig(c *serveConfig, fs *pflag.FlagSet, stdout, stderr io.Writer) (server.Config, error) {
	if c.modules != "purge" && c.modules != "keep" {
		return server.Config{}, fmt.Errorf("--modules %q: want purge or keep", c.modules)
	}
	if c.globals != "fresh" && c.globals != "keep" {
		return server.Config{}, fmt.Errorf("--globals %q: want fresh or keep", c.globals)
	}
	logger, err := server.NewLogger(stderr, c.logFormat, c.logLevel)
	if err != nil {
		return server.Config{}, err
	}
	h, err := newHandler(c, logger)
	if err != nil {
		return server.Config{}, err
	}
	bc, err := backendConfig(c, h.Root)
	if err != nil {
		return server.Config{}, err
	}
	mode, err := socketMode(c.socketMode)
	if err != nil {
		return server.Config{}, err
	}
	listen := c.listen
	if listen == noListen {
		listen = ""
	}
	var static *frontend.Static
	if c.staticListing && c.static == "" {
		return server.Config{}, fmt.Errorf("--static-listing needs --static DIR")
	}
	if c.static != "" {
		dir, err := filepath.Abs(c.static)
		if err != nil {
			return server.Config{}, err
		}
		static = &frontend.Static{Root: dir, Listing: c.staticListing}
	}
	return server.Config{
		Static:            static,
		Handler:           h,
		Backend:           bc,
		Isolation:         c.iso.mode,
		Listen:            listen,
		FastCGI:           c.fastcgi,
		FastCGIRemoteUser: c.fastcgiUser,
		SocketMode:        mode,
		SocketGroup:       c.socketGroup,
		TLSCert:           c.tlsCert,
		TLSKey:            c.tlsKey,
		AccessLog:         c.accessLog,
		AccessLogFormat:   c.accessLogFormat,
		Stdout:            stdout,
		Status:            c.status,
		StatusPublic:      c.statusPublic,
		PycacheDir:        c.pycacheDir,
		PycacheExplicit:   fs.Changed("pycache-dir"),
		Security:          c.security,
		ShutdownTimeout:   c.shutdownTimeout,
		Logger:            logger,
	}, nil
}

func newHandler(c *serveConfig, logger *slog.Logger) (*cgienv.Handler, error) {
	dir, err := filepath.Abs(c.dir)
	if err != nil {
		return nil, err
	}
	maxBody, err := server.ParseSize(c.maxBody)
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
	if docRoot == "" && c.static != "" {
		if docRoot, err = filepath.Abs(c.static); err != nil {
			return nil, err
		}
	}
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
