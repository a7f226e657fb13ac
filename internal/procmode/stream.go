package procmode

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"
)

// StreamAnswer is what Job.Stream says about a chunk of output: the
// answers of cgienv's Request.Stream, which procmode does not import.
type StreamAnswer int

// The answers of Job.Stream.
const (
	// StreamGone: the client left; the script's next write fails with
	// EPIPE, as on a pipe whose reader closed it.
	StreamGone StreamAnswer = -1
	// StreamSent: the chunk was sent; drop it.
	StreamSent StreamAnswer = 0
	// StreamKeep: keep the chunk and offer it again, with what follows
	// (the header block is not complete yet).
	StreamKeep StreamAnswer = 1
	// StreamDecline: this response is not streamed; keep everything.
	StreamDecline StreamAnswer = 2
)

// streamDelay is the longest a script's output waits in the server, once
// it reached the pipe, before it is offered to the client while the
// script still runs. The script's writes within it go out together, and a
// script that ends within it is answered whole (with a Content-Length,
// as in the embedded modes, where only a flush streams): its last write
// and the end of its pipe come microseconds apart.
const streamDelay = 20 * time.Millisecond

// streamAt is how much held output is offered at once, without waiting
// for streamDelay: a large body streams with bounded memory, as the
// embedded modes stream one from 256 KiB on.
const streamAt = 256 << 10

// output is a script's stdout and stderr as the server reads them.
type output struct {
	stdout, stderr bytes.Buffer // stdout: what was not streamed
	streamed       bool         // some of stdout went to the client
	eof            chan struct{}
}

// collect reads a script's stdout and stderr pipes into o; o.eof is
// closed once both have ended (o's fields may be read then). With stream,
// stdout goes to it as it arrives (pumpStdout).
func collect(outR, errR *os.File, stream func([]byte) StreamAnswer) *output {
	o := &output{eof: make(chan struct{})}
	go func() {
		c := make(chan struct{}, 1)
		go func() { io.Copy(&o.stderr, errR); c <- struct{}{} }()
		if stream == nil {
			io.Copy(&o.stdout, outR)
		} else {
			o.streamed = pumpStdout(outR, &o.stdout, stream)
		}
		<-c
		close(o.eof)
	}()
	return o
}

// Collect reads a child's stdout and stderr pipes until both have ended
// (every holder closed them), offering stdout to stream as it arrives
// (nil: all kept), as process and fork mode do: it returns what stream did
// not take, and whether it took any.
func Collect(outR, errR *os.File, stream func([]byte) StreamAnswer) (stdout, stderr []byte, streamed bool) {
	o := collect(outR, errR, stream)
	<-o.eof
	return o.stdout.Bytes(), o.stderr.Bytes(), o.streamed
}

// logStderr logs what a script killed at its deadline wrote to stderr,
// bounded: a fork bomb's children all complain.
func logStderr(logger *slog.Logger, script string, stderr []byte) {
	if n := len(stderr); n > 0 {
		logger.Warn("script stderr", "script", script, "stderr", string(stderr[:min(n, 16<<10)]))
	}
}

// pumpStdout reads a script's stdout into buf until EOF (or until r is
// closed), offering what it holds to stream streamDelay after it arrived
// or once streamAt has gathered: a flush reaches the client while the
// script runs, as in the embedded modes and under Apache. What stream
// took is dropped from buf; the rest is the end of the response.
func pumpStdout(r *os.File, buf *bytes.Buffer, stream func([]byte) StreamAnswer) (streamed bool) {
	rb := make([]byte, 64<<10)
	offering := true
	var due time.Time // when the held output is offered; zero: not planned
	for {
		n, err := r.Read(rb)
		if n > 0 {
			buf.Write(rb[:n])
			if offering && due.IsZero() {
				due = time.Now().Add(streamDelay)
				r.SetReadDeadline(due)
			}
		}
		if offering && (buf.Len() >= streamAt || errors.Is(err, os.ErrDeadlineExceeded)) {
			due = time.Time{}
			r.SetReadDeadline(due)
			switch stream(buf.Bytes()) {
			case StreamSent:
				streamed = true
				buf.Reset()
			case StreamKeep:
				// Offered again once more arrives.
			case StreamDecline:
				offering = false
			case StreamGone:
				// The script's next write fails as on a closed pipe; what
				// it wrote meanwhile is dropped.
				buf.Reset()
				r.Close()
				return streamed
			}
			continue
		}
		if err != nil {
			return streamed // EOF, or r closed at the deadline
		}
	}
}
