package frontend

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestWriteTimeoutListener: a write to a client that reads nothing fails
// within about the timeout; one that keeps reading, however long the
// whole write takes, succeeds; a deadline set by the connection's user
// is kept.
func TestWriteTimeoutListener(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const d = time.Second
	ln := WriteTimeoutListener(tcp, d)
	defer ln.Close()
	conns, _ := accepted(ln)
	big := make([]byte, 64<<20) // more than any socket buffer

	// Nobody reads: the write fails once the buffers are full.
	dial(t, ln)
	c := <-conns
	start := time.Now()
	n, err := c.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n == len(big) {
		t.Fatalf("write to a client that does not read: %d bytes, %v", n, err)
	}
	if took := time.Since(start); took > 20*d {
		t.Errorf("the stalled write failed after %v, timeout %v", took, d)
	}
	c.Close()

	// A slow but steady reader: each piece arrives in time, the whole
	// write takes longer than the timeout.
	client := dial(t, ln)
	c = <-conns
	go func() {
		buf := make([]byte, 64<<10)
		for {
			time.Sleep(d / 200)
			if _, err := client.Read(buf); err != nil {
				return
			}
		}
	}()
	steady := make([]byte, 16<<20)
	start = time.Now()
	if n, err := c.Write(steady); err != nil || n != len(steady) {
		t.Fatalf("write to a steady reader: %d bytes, %v", n, err)
	}
	t.Logf("the steady write took %v (timeout %v)", time.Since(start), d)
	c.Close()

	// The user's own earlier deadline wins.
	dial(t, ln)
	c = <-conns
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write after a past deadline: %v", err)
	}
	c.SetWriteDeadline(time.Time{})
	if _, err := c.Write([]byte("x")); err != nil {
		t.Errorf("write after clearing the deadline: %v", err)
	}
	c.Close()
}
