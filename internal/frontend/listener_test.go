package frontend

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ownerOptions leaves the socket's owner as created.
var ownerOptions = SocketOptions{Mode: 0o660, UID: -1, GID: -1}

// TestListenUnix: a unix: socket gets the mode asked for, its peers are
// 127.0.0.1, and Close removes the file.
func TestListenUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := Listen("unix:"+path, SocketOptions{Mode: 0o620, UID: -1, GID: -1}, discard())
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o620 {
		t.Fatalf("socket file: %v, %v; want a socket with mode 0620", fi.Mode(), err)
	}
	go func() {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RemoteAddr().String(); got != "127.0.0.1" {
		t.Errorf("peer %q, want 127.0.0.1", got)
	}
	c.Close()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file still there after Close: %v", err)
	}
}

// TestListenUnixReplaced: Close leaves a socket file another server has
// put in the listener's place.
func TestListenUnixReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := Listen("unix:"+path, ownerOptions, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	other, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("the other server's socket was removed: %v", err)
	}
}

// TestListenStaleSocket: a socket nobody answers on is replaced; one a
// server listens on, a file that is not a socket, an abstract socket and
// an empty path are refused.
func TestListenStaleSocket(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	old, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close() // the file stays, as after a crash
	ln, err := Listen("unix:"+stale, ownerOptions, discard())
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	defer ln.Close()

	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"unix:" + stale:  "another server is listening",
		"unix:" + plain:  "is not a socket",
		"unix:@abstract": "abstract sockets",
		"unix:":          "needs a socket path",
	} {
		if l, err := Listen(addr, ownerOptions, discard()); err == nil || !strings.Contains(err.Error(), want) {
			if l != nil {
				l.Close()
			}
			t.Errorf("Listen(%q): %v, want an error saying %q", addr, err, want)
		}
	}
	if b, _ := os.ReadFile(plain); string(b) != "keep" {
		t.Errorf("the plain file was replaced")
	}
}

// TestListenTCP: an address without unix: is TCP.
func TestListenTCP(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", ownerOptions, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, ok := ln.Addr().(*net.TCPAddr); !ok {
		t.Errorf("address %v is not TCP", ln.Addr())
	}
}

func TestSocketPath(t *testing.T) {
	for addr, want := range map[string]string{"unix:/run/w.sock": "/run/w.sock", "127.0.0.1:9000": "", "unix:": "", "": ""} {
		if got := SocketPath(addr); got != want {
			t.Errorf("SocketPath(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestWarnOpenFastCGI: only a TCP address other hosts may reach warns.
func TestWarnOpenFastCGI(t *testing.T) {
	for addr, warns := range map[string]bool{
		"0.0.0.0:9000": true, ":9000": true, "192.0.2.1:9000": true, "localhost:9000": true,
		"127.0.0.1:9000": false, "[::1]:9000": false, "unix:/run/w.sock": false,
	} {
		var b bytes.Buffer
		WarnOpenFastCGI(addr, slog.New(slog.NewTextHandler(&b, nil)))
		if got := strings.Contains(b.String(), "level=WARN"); got != warns {
			t.Errorf("%s: warned %v, want %v: %s", addr, got, warns, b.String())
		}
	}
}
