package server

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/frontend"
	"github.com/warmcgi/warmcgi/internal/observe"
)

// Serve serves until ctx ends, then drains: the listeners stop accepting,
// in-flight requests get ShutdownTimeout, the backends stop. SIGHUP
// meanwhile reloads the TLS certificate and replaces every worker, each
// after its current request. The error is that of a listener that failed;
// the server is closed either way.
func (s *Server) Serve(ctx context.Context) error {
	defer s.close()
	s.reloadOnHUP(ctx)
	c := &s.c
	handler := s.site()
	if s.stats != nil {
		handler = s.stats.CountInFlight(handler)
		s.status = observe.NewStatusServer(s.stats, observe.StatusInfo{Python: firstLine(backend.PythonVersion()), Mode: s.modeLine()}, s.log)
		go s.status.Serve(s.statusLn) // ends with ShutdownStatus, on the cleanup stack
	}
	srv := &http.Server{
		Handler:  handler,
		ErrorLog: log.New(serverErrorLog{s.log}, "", 0),
	}
	// Slow clients must not hold connections (and workers) forever:
	// header timeout, idle timeout and header size limit, from the flags.
	c.Security.configureServer(srv)
	if s.cert != nil {
		s.cert.configure(srv)
	}
	s.log.Info("warmcgi started", "python", firstLine(backend.PythonVersion()), "workers", c.Backend.Workers,
		"gil", gilName(), "isolation", c.Isolation, "dir", s.cgi.Root)
	errc := make(chan error, 2)
	if s.ln != nil {
		scheme := "http"
		if s.cert != nil {
			scheme = "https"
		}
		if path := frontend.SocketPath(c.Listen); path != "" {
			s.log.Info("listening", "socket", path, "scheme", scheme)
		} else {
			s.log.Info("listening", "url", scheme+"://"+s.ln.Addr().String()+"/")
		}
		go func() {
			if s.cert != nil {
				errc <- srv.ServeTLS(s.ln, "", "") // the certificate comes from srv.TLSConfig
				return
			}
			errc <- srv.Serve(s.ln)
		}()
	}
	fsrv := frontend.NewFastCGIServer(handler, c.FastCGIRemoteUser, s.log)
	if s.fln != nil {
		s.log.Info("fastcgi listening", "addr", s.fln.Addr().String())
		go func() { errc <- fsrv.Serve(s.fln) }()
	}
	if s.stats != nil {
		s.log.Info("status page", "url", "http://"+s.statusLn.Addr().String()+"/")
		s.stats.SetReady(true)
	}
	select {
	case err := <-errc:
		s.log.Error("serve", "err", err)
		return err
	case <-ctx.Done():
	}
	s.drain(srv, fsrv)
	return nil
}

// drain stops both listeners at once and waits up to ShutdownTimeout for
// the requests in flight, then stops the backends.
func (s *Server) drain(srv *http.Server, fsrv *frontend.FastCGIServer) {
	if s.stats != nil {
		s.stats.SetReady(false) // /readyz answers 503 while in-flight requests drain
	}
	s.log.Info("shutting down", "timeout", s.c.ShutdownTimeout)
	deadline := time.Now().Add(s.c.ShutdownTimeout)
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	shutdowns := make(chan error, 2)
	if s.ln != nil {
		go func() { shutdowns <- srv.Shutdown(sctx) }()
	}
	if s.fln != nil {
		go func() { shutdowns <- fsrv.Shutdown(sctx) }()
	}
	for _, l := range []net.Listener{s.ln, s.fln} {
		if l == nil {
			continue
		}
		if err := <-shutdowns; err != nil {
			s.log.Warn("in-flight requests did not finish in time", "err", err)
		}
	}
	if s.backends != nil {
		s.backends.CloseBy(deadline) // what is left of the same deadline
	}
	s.close()
	s.log.Info("stopped")
}

// reloadOnHUP replaces the workers on SIGHUP, without dropping requests:
// each new worker starts before the old one is retired after its current
// request. The TLS certificate, if any, is read again first.
func (s *Server) reloadOnHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if s.cert != nil {
					s.cert.reload(s.log)
				}
				s.log.Info("SIGHUP: restarting workers")
				s.backends.Reload(ctx)
			}
		}
	}()
}

// modeLine is the status page's summary of how scripts run.
func (s *Server) modeLine() string {
	b := &s.c.Backend
	return fmt.Sprintf("gil=%s modules=%s globals=%s timeout=%s max-requests=%d",
		gilName(), map[bool]string{true: "keep", false: "purge"}[b.KeepModules],
		map[bool]string{true: "keep", false: "fresh"}[b.KeepGlobals], b.Timeout, b.MaxRequests)
}

func gilName() string { return map[bool]string{true: "own", false: "shared"}[backend.OwnGIL()] }

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
