package server

// HTTPS on the HTTP listener (--tls-cert, --tls-key): the certificate is
// loaded before privileges are dropped, handed to crypto/tls through
// GetCertificate, and replaced on SIGHUP, so a renewed certificate (certbot,
// cert-manager) takes effect without a restart. HTTP/2 comes from net/http.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// maxStreamsPerConn bounds the requests one HTTP/2 connection may have
// in flight, as Apache's H2MaxSessionStreams (100) does: with
// --max-connections it bounds the requests waiting in the handler.
const maxStreamsPerConn = 100

// certificate is the served certificate and key, reloadable from their
// files.
type certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// loadCertificate reads the pair for the first time; an unreadable file or
// a key that does not match the certificate is an error naming both files.
func loadCertificate(certFile, keyFile string, log *slog.Logger) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	cert, err := c.read()
	if err != nil {
		return nil, err
	}
	c.cur.Store(cert)
	c.logLoaded("TLS certificate loaded", cert, log)
	return c, nil
}

// read loads and parses the pair from the files.
func (c *certificate) read() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", c.certFile, c.keyFile, err)
	}
	// LoadX509KeyPair fills Leaf (for the log) unless GODEBUG
	// x509keypairleaf=0 says otherwise.
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("--tls-cert %s: %w", c.certFile, err)
		}
	}
	return &cert, nil
}

// reload replaces the served certificate with the files' current
// contents; when they cannot be read or do not match, the old certificate
// stays and the log says why.
func (c *certificate) reload(log *slog.Logger) {
	cert, err := c.read()
	if err != nil {
		old := c.cur.Load().Leaf
		log.Error("TLS certificate not reloaded: still serving the previous one", "err", err,
			"serial", old.SerialNumber.String(), "not_after", old.NotAfter.UTC().Format(time.RFC3339))
		return
	}
	c.cur.Store(cert)
	c.logLoaded("TLS certificate reloaded", cert, log)
}

// logLoaded logs which certificate is served now, and warns when it is
// outside its validity period (clients will refuse it).
func (c *certificate) logLoaded(msg string, cert *tls.Certificate, log *slog.Logger) {
	leaf := cert.Leaf
	attrs := []any{"subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
	log.Info(msg, attrs...)
	now := time.Now()
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		log.Warn("TLS certificate is not valid now: clients will refuse it", append(attrs,
			"not_before", leaf.NotBefore.UTC().Format(time.RFC3339))...)
	}
}

// configure makes srv serve HTTPS with HTTP/2 and HTTP/1.1 from the
// current certificate. The server's own limits (MaxHeaderBytes, the
// timeouts) apply to both protocols: net/http bounds the TLS handshake by
// ReadHeaderTimeout and gives HTTP/2 the header limit and IdleTimeout.
func (c *certificate) configure(srv *http.Server) {
	srv.TLSConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	srv.Protocols = &p
	srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreamsPerConn}
}

// checkTLS checks --tls-cert and --tls-key and loads the pair, before the
// listener is bound and privileges are dropped (the key may be readable
// by root only, as for Apache and nginx).
func (s *Server) checkTLS() error {
	c := &s.c
	switch {
	case c.TLSCert == "" && c.TLSKey == "":
		return nil
	case c.TLSCert == "" || c.TLSKey == "":
		return usage("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
	case c.Listen == "":
		return usage("--tls-cert and --tls-key serve HTTPS on --listen, which is none")
	}
	cert, err := loadCertificate(c.TLSCert, c.TLSKey, s.log)
	if err != nil {
		return &UsageError{Err: err}
	}
	s.cert = cert
	return nil
}

// serverErrorLog is the HTTP server's error log. A TLS handshake that a
// client abandons (a TCP health check or port scan connecting and
// closing, a client that never sends its hello) is logged at Debug: at
// Warn, every probe of an HTTPS port would add a line. Other handshake
// failures (a client refusing the certificate) stay warnings.
type serverErrorLog struct{ log *slog.Logger }

func (l serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") &&
		(strings.HasSuffix(msg, ": EOF") || strings.HasSuffix(msg, "i/o timeout") || strings.HasSuffix(msg, "connection reset by peer")) {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, msg)
	return len(p), nil
}
