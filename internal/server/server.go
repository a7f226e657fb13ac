// Package server wires warmcgi together: the CGI handler, the listeners
// (HTTP, FastCGI, status), the access log and metrics, the switch to the
// --user account and the backends, with one cleanup stack that undoes
// whatever was started, in reverse order, however far start-up got.
package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/frontend"
	"github.com/warmcgi/warmcgi/internal/observe"
)

// Config is what serve's flags give the server, parsed and checked for
// syntax; New checks the rest (the directory, the user, the addresses).
type Config struct {
	// Handler is the CGI layer, with its Root (an absolute DIR) and the
	// request-facing settings filled in; New adds the rest.
	Handler *cgienv.Handler
	// Backend configures the backends; New sets its Root, Observe, User
	// and PycacheDir.
	Backend backend.Config
	// Isolation names the default isolation mode, for the start-up log.
	Isolation string
	// MoreScripts are further script directories, each a Handler with its
	// own Root and Prefix and otherwise Handler's settings (warmcgi
	// http's htbin/); New gives them Handler's runner, limits and hooks.
	MoreScripts []*cgienv.Handler
	// Static, when not nil, serves a document root at every path outside
	// the scripts' prefixes (--static, warmcgi http); New sets its
	// Scripts, Error, Observe and Logger. With Static the script
	// directories need not exist (yet).
	Static *frontend.Static

	Listen            string // host:port, unix:PATH, or "" (FastCGI only)
	FastCGI           string // host:port, unix:PATH, or "" (none)
	FastCGIRemoteUser bool   // --fastcgi-remote-user
	SocketMode        os.FileMode
	SocketGroup       string // --socket-group; "": the --user account's group
	// TLSCert and TLSKey are --tls-cert and --tls-key: PEM files that make
	// the HTTP listener serve HTTPS (and HTTP/2); both or neither.
	TLSCert, TLSKey string

	AccessLog       string    // FILE, "-" (Stdout) or "" (none)
	AccessLogFormat string    // combined or json
	Stdout          io.Writer // the access log's "-"
	Status          string    // --status address, or "" (none)
	StatusPublic    bool

	// PycacheDir is --pycache-dir; PycacheExplicit says it was given.
	PycacheDir      string
	PycacheExplicit bool

	Security        Security
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
}

// UsageError is a configuration New refuses before it starts anything
// (the command line's fault: exit status 2). Other errors of New have been
// logged already.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Server is a started warmcgi: listeners bound, privileges dropped,
// backends running. Serve runs it until its context ends.
type Server struct {
	c        Config
	log      *slog.Logger
	cgi      *cgienv.Handler
	ln, fln  net.Listener // HTTP, FastCGI; nil when off
	statusLn net.Listener
	cert     *certificate // --tls-cert; nil: plain HTTP
	stats    *observe.Metrics
	status   *http.Server // the status page's server, once Serve started it
	backends *backend.Dispatcher
	undo     []func() // the cleanup stack, run last first by close
}

// New starts everything but the serving itself, in the order that keeps
// privileges short: check the configuration, open the access log, bind
// the listeners, switch to --user, then start Python and the workers.
// What fails is undone before New returns.
func New(c Config) (*Server, error) {
	s := &Server{c: c, log: c.Logger, cgi: c.Handler}
	if err := s.start(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	c := &s.c
	if err := s.check(); err != nil {
		return err
	}
	if err := s.bind(); err != nil {
		return err
	}
	if err := c.Security.dropPrivileges(s.servedDir(), s.log); err != nil {
		s.log.Error("dropping privileges", "err", err)
		return err
	}
	// Watched as the serving user, who must be able to read DIR anyway.
	s.watchScripts()
	pycache, err := c.Security.pycacheDir(c.PycacheDir, c.PycacheExplicit, s.log)
	if err != nil {
		s.log.Error("bytecode cache", "err", err)
		return err
	}
	// The status page stops after the backends (the stack runs last
	// first), so /readyz answers while they drain.
	s.deferUndo(func() {
		if s.status != nil {
			observe.ShutdownStatus(s.status)
		}
	})
	return s.startBackends(pycache)
}

// deferUndo pushes f on the cleanup stack.
func (s *Server) deferUndo(f func()) { s.undo = append(s.undo, f) }

// close runs the cleanup stack, last first.
func (s *Server) close() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
	s.undo = nil
}

// check refuses what cannot work before anything is opened, and opens the
// access log (before privileges are dropped, as Apache opens its logs).
func (s *Server) check() error {
	c := &s.c
	if err := s.checkStatic(); err != nil {
		return err
	}
	dir := s.servedDir()
	st, err := os.Stat(dir)
	if err != nil {
		return &UsageError{Err: err}
	}
	if !st.IsDir() {
		return usage("%s is not a directory", dir)
	}
	if err := c.Security.prepare(dir); err != nil {
		return &UsageError{Err: err}
	}
	for _, h := range s.scriptHandlers() {
		c.Security.configureHandler(h)
	}
	alog, err := observe.OpenAccessLog(c.AccessLog, c.AccessLogFormat, c.Stdout, s.log)
	if err != nil {
		return &UsageError{Err: err}
	}
	if alog != nil {
		s.deferUndo(func() { alog.Close() })
		// The access log records every request: the log's own record of
		// each is then Debug (--log-level debug shows it).
		for _, h := range s.scriptHandlers() {
			h.RequestLogLevel = slog.LevelDebug
		}
		if c.Static != nil {
			c.Static.RequestLogLevel = slog.LevelDebug
		}
	}
	if c.Listen == "" && c.FastCGI == "" {
		return usage("--listen none needs --fastcgi: there would be nothing to serve")
	}
	if err := s.checkTLS(); err != nil {
		return err
	}
	if c.Status != "" {
		s.stats = observe.NewMetrics(s.cgi.Root, s.cgi.Prefix)
	}
	hook := observe.Hook(alog, s.stats)
	for _, h := range s.scriptHandlers() {
		h.Observe = hook
	}
	if c.Static != nil {
		c.Static.Observe = hook
	}
	return nil
}

// bind opens the HTTP, FastCGI and status listeners, as the user the
// server was started as (root may bind low ports and socket paths).
func (s *Server) bind() error {
	c := &s.c
	sock, err := c.Security.socketOptions(c.SocketMode, c.SocketGroup)
	if err != nil {
		return &UsageError{Err: err}
	}
	if c.Listen != "" {
		ln, err := frontend.Listen(c.Listen, sock, s.log)
		if err != nil {
			s.log.Error("listen", "err", err)
			return err
		}
		s.deferUndo(func() { ln.Close() })
		s.ln = c.Security.limit(ln, s.log)
	}
	if c.FastCGI != "" {
		fsock := sock
		fsock.NoKeepAlive = true // the front end is a local nginx or Apache
		fln, err := frontend.Listen(c.FastCGI, fsock, s.log)
		if err != nil {
			s.log.Error("listen", "fastcgi", c.FastCGI, "err", err)
			return err
		}
		s.deferUndo(func() { fln.Close() })
		frontend.WarnOpenFastCGI(c.FastCGI, s.log)
		// Each listener has its own --max-connections.
		s.fln = c.Security.limit(fln, s.log)
	}
	if c.Status != "" {
		ln, err := observe.ListenStatus(c.Status, c.StatusPublic)
		if err != nil {
			if errors.Is(err, observe.ErrStatusNotLoopback) {
				return &UsageError{Err: err}
			}
			s.log.Error("status", "err", err)
			return err
		}
		s.deferUndo(func() { ln.Close() })
		s.statusLn = ln
	}
	return nil
}

// startBackends starts the backends (worker processes after the
// privilege drop run as --user too) and hands them the handler.
func (s *Server) startBackends(pycache string) error {
	bc := s.c.Backend
	bc.Root = s.cgi.Root
	bc.PycacheDir = pycache
	bc.User = s.c.Security.User
	bc.Logger = s.log
	if s.stats != nil {
		bc.Observe = func(mode string, pool backend.PoolStats, size int) backend.Recorder {
			return s.stats.AddSource(mode, pool, size)
		}
	}
	b, err := backend.New(bc)
	if err != nil {
		return err
	}
	s.stats.SetMoves(func() []observe.Move {
		var ms []observe.Move
		for _, d := range b.AutoDecisions() {
			ms = append(ms, observe.Move{Script: d.Script, Mode: d.Mode, Reason: d.Reason, Since: d.Since})
		}
		return ms
	})
	s.backends = b
	s.deferUndo(b.Close)
	for _, h := range s.scriptHandlers() {
		h.Runner = b
	}
	return nil
}
