package frontend

// The write timeout (--write-timeout).

import (
	"net"
	"sync/atomic"
	"time"
)

// writeChunk is how much of a write must reach the client within the
// timeout: a large write is sent in pieces of this size, each with a
// deadline of its own, so the timeout bounds a stall, not a whole body.
const writeChunk = 64 << 10

// WriteTimeoutListener returns ln whose connections fail a write that
// cannot hand writeChunk bytes (or the rest of the write) to the kernel
// within d. Without it a client that stops reading (or reads a few bytes a
// minute) holds its connection for ever, and with a streaming script the
// worker that feeds it too; Apache's Timeout bounds each send the same way.
// A deadline set on the connection by its user (a handler cutting it)
// still holds: writes are never given more time than it leaves. d <= 0
// returns ln.
func WriteTimeoutListener(ln net.Listener, d time.Duration) net.Listener {
	if d <= 0 {
		return ln
	}
	return &writeTimeoutListener{Listener: ln, d: d}
}

type writeTimeoutListener struct {
	net.Listener
	d time.Duration
}

func (l *writeTimeoutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &writeTimeoutConn{wrapped: wrapped{c}, d: l.d}, nil
}

// writeTimeoutConn sets a write deadline before each piece it writes.
type writeTimeoutConn struct {
	wrapped
	d time.Duration
	// set is the write deadline the connection's user set (unix
	// nanoseconds; 0: none).
	set atomic.Int64
}

func (c *writeTimeoutConn) Write(p []byte) (int, error) {
	n := 0
	for {
		end := min(len(p), n+writeChunk)
		due := time.Now().Add(c.d)
		if set := c.set.Load(); set != 0 && set < due.UnixNano() {
			due = time.Unix(0, set)
		}
		if err := c.Conn.SetWriteDeadline(due); err != nil {
			return n, err
		}
		m, err := c.Conn.Write(p[n:end])
		n += m
		if err != nil || n == len(p) {
			return n, err
		}
	}
}

func (c *writeTimeoutConn) SetDeadline(t time.Time) error {
	c.remember(t)
	return c.Conn.SetDeadline(t)
}

func (c *writeTimeoutConn) SetWriteDeadline(t time.Time) error {
	c.remember(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *writeTimeoutConn) remember(t time.Time) {
	if t.IsZero() {
		c.set.Store(0)
	} else {
		c.set.Store(t.UnixNano())
	}
}
