package frontend

// The connection limit (--max-connections).

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// LimitListener returns ln accepting at most n connections at a time.
// When all are taken, Accept waits for a connection to close, and new
// clients wait in the kernel's accept queue, as under Apache's
// MaxRequestWorkers: nothing is refused, and nothing is read from a
// connection before it has a slot.
func LimitListener(ln net.Listener, n int, logger *slog.Logger) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}), logger: logger}
}

type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	logger    *slog.Logger
	lastWarn  atomic.Int64 // unix seconds of the last "limit reached" warning
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.warnFull()
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{wrapped: wrapped{c}, l: l}, nil
}

// warnFull logs that the limit was reached, at most once a minute.
func (l *limitListener) warnFull() {
	now := time.Now().Unix()
	if last := l.lastWarn.Load(); now-last >= 60 && l.lastWarn.CompareAndSwap(last, now) {
		l.logger.Warn("connection limit reached: new connections wait", "max_connections", cap(l.slots))
	}
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when it is closed, once, however often
// Close is called (net/http and hijacking handlers may both close it).
type limitConn struct {
	wrapped
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.l.slots })
	return err
}
