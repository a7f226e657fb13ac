package cgienv

import (
	"context"
	"io"
	"os"
)

// Request is one CGI invocation handed to a Runner: everything a fresh CGI
// process would receive from Apache mod_cgi, already resolved and built.
type Request struct {
	// Script is the absolute, cleaned path of the script file.
	Script string
	// Stamp identifies the file version (for code caches).
	Stamp Stamp
	// Env is the complete environment, "NAME=value" entries, built from an
	// empty base (see BuildEnv). Nothing of the server's own environment is
	// in it unless the handler was told to pass it.
	Env []string
	// Args are argv[1:]: Apache's ISINDEX words (empty for most requests).
	Args []string
	// Stdin is the request body, already de-chunked and limited.
	Stdin []byte
	// StdinFile, when not nil, holds a large body instead of Stdin: an
	// unlinked temporary file positioned at its start, owned by the
	// handler (a Runner reads it, never closes it).
	StdinFile *os.File
	// StdinStream, when not nil, is a large body (a Content-Length above
	// the handler's streaming threshold, or a chunked body that passed
	// it; the latter fails with *http.MaxBytesError past the handler's
	// MaxBody) still arriving: a Runner hands
	// it to the script as the script reads it, as Apache does (COMPAT
	// 19), from any thread but only while Run runs (the connection itself
	// is read by a goroutine of the handler). Stdin and StdinFile are
	// then empty.
	StdinStream io.Reader
	// Stream, when not nil, takes output the script flushes while it
	// still runs (progress pages, large bodies). Output it answers
	// StreamSent to was delivered and is not in Output.Stdout. A Runner
	// may ignore Stream and return everything in Output.Stdout. Stream
	// may be called from any thread while Run runs; it never writes to
	// the connection itself (a goroutine of the handler does), and it
	// returns once the chunk is written, so the chunk may be reused then.
	Stream func(chunk []byte) StreamAnswer

	flight *flight // the handler's, for Abandon; nil in a Request made elsewhere
}

// StreamAnswer is what Request.Stream says about a chunk of output.
type StreamAnswer int

// The answers of Request.Stream.
const (
	// StreamGone: the client left; the script should see a broken pipe.
	StreamGone StreamAnswer = -1
	// StreamSent: the chunk was sent; drop it.
	StreamSent StreamAnswer = 0
	// StreamKeep: keep the chunk and offer it again, with what follows,
	// at the next flush (the header block is not complete yet).
	StreamKeep StreamAnswer = 1
	// StreamDecline: this response is not streamed; keep everything.
	StreamDecline StreamAnswer = 2
)

// Stamp is a script file's identity: a change in any field means the file
// changed (atomic renames change Ino, same-second edits change MtimeNs/Size).
type Stamp struct {
	MtimeNs int64
	Size    int64
	Ino     uint64
	Dev     uint64
}

// Output is what the script produced.
type Output struct {
	// Stdout is everything the script wrote to its standard output: CGI
	// response headers, a blank line, then the body.
	Stdout []byte
	// Stderr is what the script wrote to its standard error, tracebacks
	// included. The handler logs it line by line.
	Stderr []byte
	// ExitCode is the script's exit status (sys.exit(n), 1 for an uncaught
	// exception). Apache ignores it for the response; it is only logged.
	ExitCode int
	// Failure, when not empty, says why the script did not complete
	// normally (a compile error, an uncaught exception's type and message).
	// Any output before the failure is still in Stdout and is still served,
	// as under CGI.
	Failure string
}

// Runner runs one CGI request to completion. An error means the request
// could not be run at all (queue full, shutting down, runtime failure) or
// not to its end (a timeout), not that the script failed: script failures
// are reported in Output. With an error, an Output holding only the
// script's stderr may still come back (a timed-out script's), for the log.
type Runner interface {
	Run(ctx context.Context, req *Request) (*Output, error)
}

// ErrOverloaded is returned (wrapped or as is) by a Runner that has no
// capacity for the request; the handler answers 503 with Retry-After.
var ErrOverloaded = overloadedError{}

type overloadedError struct{}

func (overloadedError) Error() string { return "cgienv: no capacity for the request" }
