package procmode

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pipePair is a script's stdout as the server reads it: a pollable read
// end and the script's write end.
func pipePair(t *testing.T) (r, w *os.File) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	return pollable(p[0], "stdout"), os.NewFile(uintptr(p[1]), "script")
}

// offers records what pumpStdout offered, answering with answer(i).
type offers struct {
	mu     sync.Mutex
	chunks []string
	at     []time.Time
	answer func(i int) StreamAnswer
}

func (o *offers) stream(b []byte) StreamAnswer {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.chunks = append(o.chunks, string(b))
	o.at = append(o.at, time.Now())
	return o.answer(len(o.chunks) - 1)
}

func sent(int) StreamAnswer { return StreamSent }

// TestPumpStdout: what a script writes and then leaves in the pipe goes to
// the client within streamDelay; output followed by the pipe's end within
// it is never offered (the response is sent whole); 256 KiB go at once;
// Keep offers it again with what follows, Decline stops offering, and Gone
// makes the script's next write fail with EPIPE.
func TestPumpStdout(t *testing.T) {
	t.Run("ends at once", func(t *testing.T) {
		r, w := pipePair(t)
		o := &offers{answer: sent}
		var buf bytes.Buffer
		go func() { w.Write([]byte("Content-Type: text/plain\n\nhello\n")); w.Close() }()
		if streamed := pumpStdout(r, &buf, o.stream); streamed || len(o.chunks) > 0 || buf.String() != "Content-Type: text/plain\n\nhello\n" {
			t.Errorf("streamed %v, offers %q, held %q: want nothing offered, all held", streamed, o.chunks, buf.String())
		}
	})
	t.Run("flush then work", func(t *testing.T) {
		r, w := pipePair(t)
		o := &offers{answer: sent}
		var buf bytes.Buffer
		start := time.Now()
		go func() {
			w.Write([]byte("head\n\nfirst\n"))
			time.Sleep(500 * time.Millisecond)
			w.Write([]byte("rest\n"))
			w.Close()
		}()
		streamed := pumpStdout(r, &buf, o.stream)
		if !streamed || len(o.chunks) != 1 || o.chunks[0] != "head\n\nfirst\n" || buf.String() != "rest\n" {
			t.Fatalf("streamed %v, offers %q, held %q", streamed, o.chunks, buf.String())
		}
		if d := o.at[0].Sub(start); d > 300*time.Millisecond {
			t.Errorf("first offer after %v, want it well before the 500 ms pause ends", d)
		}
	})
	t.Run("large", func(t *testing.T) {
		r, w := pipePair(t)
		o := &offers{answer: sent}
		var buf bytes.Buffer
		big := bytes.Repeat([]byte("x"), 3*streamAt)
		go func() { w.Write(big); w.Close() }()
		pumpStdout(r, &buf, o.stream)
		total := buf.Len()
		for _, c := range o.chunks {
			total += len(c)
			// Memory stays bounded: an offer is at most streamAt and one
			// read more (a loaded machine may offer less, at streamDelay).
			if len(c) > streamAt+64<<10 {
				t.Errorf("an offer of %d bytes: want each at most %d", len(c), streamAt+64<<10)
			}
		}
		if len(o.chunks) < 2 || total != len(big) {
			t.Errorf("%d offers, %d bytes in all: want the body in several, every byte once", len(o.chunks), total)
		}
	})
	t.Run("keep then decline", func(t *testing.T) {
		r, w := pipePair(t)
		o := &offers{answer: func(i int) StreamAnswer { return []StreamAnswer{StreamKeep, StreamDecline}[min(i, 1)] }}
		var buf bytes.Buffer
		go func() {
			w.Write([]byte("Content-Ty"))
			time.Sleep(100 * time.Millisecond)
			w.Write([]byte("pe: x\n\nbody\n"))
			time.Sleep(100 * time.Millisecond)
			w.Write([]byte("more\n"))
			w.Close()
		}()
		streamed := pumpStdout(r, &buf, o.stream)
		want := []string{"Content-Ty", "Content-Type: x\n\nbody\n"}
		if streamed || len(o.chunks) != 2 || o.chunks[0] != want[0] || o.chunks[1] != want[1] || buf.String() != "Content-Type: x\n\nbody\nmore\n" {
			t.Errorf("streamed %v, offers %q, held %q: want %q offered, then nothing more, all held", streamed, o.chunks, buf.String(), want)
		}
	})
	t.Run("gone", func(t *testing.T) {
		r, w := pipePair(t)
		o := &offers{answer: func(int) StreamAnswer { return StreamGone }}
		var buf bytes.Buffer
		werr := make(chan error, 1)
		go func() {
			w.Write([]byte("a\n\nb\n"))
			time.Sleep(200 * time.Millisecond)
			_, err := w.Write([]byte("c\n"))
			w.Close()
			werr <- err
		}()
		pumpStdout(r, &buf, o.stream)
		if err := <-werr; !errors.Is(err, syscall.EPIPE) {
			t.Errorf("the script's write after the client left: %v, want EPIPE", err)
		}
	})
}
