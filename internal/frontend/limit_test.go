package frontend

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// accepted starts accepting on ln and returns the connections, or the
// error that ended Accept.
func accepted(ln net.Listener) (<-chan net.Conn, <-chan error) {
	conns, errc := make(chan net.Conn, 4), make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				errc <- err
				return
			}
			conns <- c
		}
	}()
	return conns, errc
}

func dial(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestLimitListener: past the limit a connection waits to be accepted
// until one closes, however often that one is closed; it is warned about
// once; Close ends a waiting Accept.
func TestLimitListener(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ln := LimitListener(tcp, 1, slog.New(slog.NewTextHandler(&logs, nil)))
	conns, errc := accepted(ln)
	dial(t, ln)
	first := <-conns
	dial(t, ln)
	dial(t, ln)
	select {
	case <-conns:
		t.Fatal("a second connection accepted over the limit of 1")
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	first.Close() // a second Close frees no second slot
	second := <-conns
	select {
	case <-conns:
		t.Fatal("a third connection accepted: a double Close gave two slots back")
	case <-time.After(100 * time.Millisecond):
	}
	if n := strings.Count(logs.String(), "connection limit reached"); n != 1 {
		t.Errorf("%d limit warnings, want 1:\n%s", n, logs.String())
	}
	second.Close()
	third := <-conns
	dial(t, ln) // waits for a slot
	time.Sleep(50 * time.Millisecond)
	ln.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	third.Close()
}

// TestCloseWrite: a half-close passes through the unix: listener's and
// the limit's wrappers, so the peer reads the end of the response while
// its own direction stays open.
func TestCloseWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		listen func(t *testing.T) (net.Listener, error)
	}{
		{"unix", func(t *testing.T) (net.Listener, error) {
			return Listen("unix:"+filepath.Join(t.TempDir(), "s.sock"), ownerOptions, discard())
		}},
		{"unix limited", func(t *testing.T) (net.Listener, error) {
			ln, err := Listen("unix:"+filepath.Join(t.TempDir(), "s.sock"), ownerOptions, discard())
			if err != nil {
				return nil, err
			}
			return LimitListener(ln, 2, discard()), nil
		}},
		{"tcp limited", func(t *testing.T) (net.Listener, error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			return LimitListener(ln, 2, discard()), nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tc.listen(t)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			conns, _ := accepted(ln)
			client := dial(t, ln)
			c := <-conns
			defer c.Close()
			cw, ok := c.(interface{ CloseWrite() error })
			if !ok {
				t.Fatalf("%T has no CloseWrite", c)
			}
			c.Write([]byte("bye"))
			if err := cw.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			if b, err := io.ReadAll(client); err != nil || string(b) != "bye" {
				t.Errorf("client read %q, %v; want bye and EOF", b, err)
			}
			client.Write([]byte("still open"))
			buf := make([]byte, 10)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := io.ReadFull(c, buf); err != nil || string(buf[:n]) != "still open" {
				t.Errorf("server read %q, %v after its half-close", buf[:n], err)
			}
		})
	}
}
