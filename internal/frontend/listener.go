package frontend

// The listeners: TCP, and Unix sockets created with a chosen mode and
// owner, with a stale socket of an earlier run replaced.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SocketOptions says how a Unix socket file is created, and whether TCP
// connections get keep-alive probes.
type SocketOptions struct {
	Mode     os.FileMode
	UID, GID int // -1: leave as created
	// NoKeepAlive: no TCP keep-alive probes (for a FastCGI front end on
	// this host, which closes what it opens): four setsockopt calls less
	// per accepted connection.
	NoKeepAlive bool
}

// Listen binds addr: "unix:PATH" or a TCP "host:port".
func Listen(addr string, o SocketOptions, logger *slog.Logger) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		var lc net.ListenConfig
		if o.NoKeepAlive {
			lc.KeepAlive = -1
		}
		return lc.Listen(context.Background(), "tcp", addr)
	}
	if path == "" {
		return nil, errors.New("unix: needs a socket path")
	}
	if path[0] == '@' {
		// Linux's abstract sockets have no file, so no permissions: any
		// local user could connect.
		return nil, fmt.Errorf("unix:%s: abstract sockets cannot be restricted to a user or group; give a file path", path)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	// Create the socket with no access for anyone but the owner, then
	// open it up to o.Mode: with the process's umask there would be a
	// moment in which anyone may connect. Nothing else in the process
	// creates files at this point of the startup.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chown(path, o.UID, o.GID); err != nil {
		ln.Close()
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	if err := os.Chmod(path, o.Mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// Close removes the file itself, and only if it is still this one.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return &unixListener{Listener: ln, path: path, file: fi, logger: logger}, nil
}

// SocketPath returns the file of a "unix:PATH" address, or "".
func SocketPath(addr string) string {
	path, _ := strings.CutPrefix(addr, "unix:")
	if path == addr {
		return ""
	}
	return path
}

// removeStaleSocket removes a socket left at path by a server that did
// not stop cleanly, so that a restart does not fail with "address in use".
// A socket someone still answers on, or anything that is not a socket,
// is left alone and reported.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; not replacing it", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("%s: another server is listening on this socket", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: cannot tell whether the socket is in use: %w", path, err)
	}
	return os.Remove(path)
}

// unixListener is a listener on a Unix socket. Its peers are processes
// on this machine, which Go reports as "@" (an unnamed socket); they are
// presented as 127.0.0.1 without a port instead, so that REMOTE_ADDR is
// an address scripts can parse and --trusted-proxy 127.0.0.1 trusts a
// reverse proxy in front of the socket as it would one on loopback TCP.
type unixListener struct {
	net.Listener
	path      string
	file      os.FileInfo // the socket file as created
	logger    *slog.Logger
	closeOnce sync.Once
}

// Close closes the listener and removes its socket file, unless another
// server has replaced it since. After --user the server may lack the
// right to remove it (a directory it cannot write to); it says so, and
// the next start replaces the stale socket.
func (l *unixListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() {
		if fi, err := os.Lstat(l.path); err != nil || !os.SameFile(fi, l.file) {
			return
		}
		if err := os.Remove(l.path); err != nil {
			l.logger.Warn("cannot remove the socket; the next start replaces it", "socket", l.path, "err", err)
		}
	})
	return err
}

func (l *unixListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &unixConn{wrapped{c}}, nil
}

type unixConn struct{ wrapped }

var localPeer = &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}

func (c *unixConn) RemoteAddr() net.Addr { return localPeer }

// wrapped is the base of this package's connection wrappers. It passes
// CloseWrite on: net/http half-closes a bare TCP or Unix connection for a
// clean end of a response it will not read past, and would not find the
// method on a wrapper.
type wrapped struct{ net.Conn }

// NetConn is the wrapped connection (as tls.Conn names it).
func (c wrapped) NetConn() net.Conn { return c.Conn }

func (c wrapped) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
