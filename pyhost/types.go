package pyhost

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/warmcgi/warmcgi/cgienv"
)

// Config is the process-wide Python configuration given to Init.
type Config struct {
	// PycachePrefix is where bytecode of imported helper modules is
	// cached (never beside the scripts). Empty: no bytecode is written.
	PycachePrefix string
	// MaxMemory is what one request may allocate on its thread, in large
	// blocks and object arenas (more fails with MemoryError; budget.c).
	// 0: no limit, and the allocators are left as they are.
	MaxMemory int64
}

// Request is one script run. Every slice is borrowed for the duration of
// Exec only.
type Request struct {
	Path  string   // absolute script path; the code cache key
	Stamp [4]int64 // mtime_ns, size, inode, device: a change recompiles
	Env   []byte   // "K=V\x00" repeated
	Args  []byte   // argv[1:], "word\x00" repeated
	Body  []byte   // the request body
	// BodyFile, when not nil, holds the body instead of Body (a large
	// upload spooled to disk), positioned at its start.
	BodyFile *os.File
	// BodyReader, when not nil, is the body read as the script reads it
	// (a large upload handed over while it arrives); Body and BodyFile
	// are then unused.
	BodyReader io.Reader
	// Shebang flags honoured in-process: -u (Unbuffered: a dying script
	// loses no output) and -O/-OO (Optimize 1 or 2: asserts and, at 2,
	// docstrings compiled out).
	Unbuffered bool
	Optimize   int
	// Stream, when set, receives the output the script flushes while it
	// runs (called on the interpreter's thread). It answers cgienv.StreamSent
	// (the output was sent: it is not in Result.Stdout), StreamKeep (keep
	// it, ask again at the next flush), StreamDecline (keep everything,
	// do not ask again) or StreamGone (the client left: the script gets
	// BrokenPipeError).
	Stream func(chunk []byte) cgienv.StreamAnswer
}

// Result is what a script produced. Exec reuses its slices.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	Late     []byte // written between requests (late threads, finalizers)
	ExitCode int
	Failure  string // "" when the script completed normally
	TimedOut bool   // the request ran past InterpOptions.Timeout (Err then matches ErrTimeout)
	// Compiled says whether this run compiled the script: CompileNone
	// (the interpreter's code cache had it), CompileFirst (first run in
	// this interpreter) or CompileReload (the file changed).
	Compiled Compile
	// ThreadsLeft reports that threads the script started were still
	// running when the request ended (daemon threads, or threads past
	// the join bound): they go on in the interpreter.
	ThreadsLeft bool
	// NeedsMode, when not "", says why the script needs another isolation
	// mode than the one it ran in: it imported an extension module the
	// interpreter refused (InterpOptions.ExtGuard), or used something a
	// shared process only emulates (SIGALRM timers, time.tzset with
	// another TZ, os.fork, resource.setrlimit). The first reason only.
	NeedsMode string
}

// Err returns nil, or for a request that ran past its time limit
// (TimedOut) a *TimeoutError, which matches ErrTimeout and
// context.DeadlineExceeded with errors.Is.
func (r *Result) Err() error {
	if !r.TimedOut {
		return nil
	}
	return &TimeoutError{Failure: r.Failure}
}

// TimeoutError is Result.Err of a request that ran past its time limit.
type TimeoutError struct {
	Failure string // the runtime's failure text
}

func (e *TimeoutError) Error() string { return e.Failure }

// Is makes a TimeoutError match ErrTimeout and context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// Compile is Result.Compiled.
type Compile int

// The values of Result.Compiled.
const (
	CompileNone   Compile = 0
	CompileFirst  Compile = 1
	CompileReload Compile = 2
)

var (
	// ErrInit means Python could not be initialised.
	ErrInit = errors.New("pyhost: python initialisation failed")
	// ErrCreate means a sub-interpreter could not be created.
	ErrCreate = errors.New("pyhost: cannot create interpreter")
	// ErrClosed means the Interp was closed.
	ErrClosed = errors.New("pyhost: interp closed")
	// ErrLeftRunning means Close could not end the interpreter: a thread
	// started in it (a script's daemon thread) still ran, and ending an
	// interpreter under a running thread aborts the process. It keeps its
	// memory until the process exits.
	ErrLeftRunning = errors.New("pyhost: interpreter left running: a thread started in it still runs")
	// ErrTimeout matches Result.Err of a request the runtime's watchdog
	// ended because it ran past InterpOptions.Timeout.
	ErrTimeout = errors.New("pyhost: the request ran past its time limit")
	// ErrWrongThread means Exec or Close was called on an OS thread other
	// than the one that created the Interp (or while another call on it
	// ran): nothing was done. It is a bug of the caller.
	ErrWrongThread = errors.New("pyhost: interp used from a thread other than its owner's")
)

// RuntimeError is a failure of the warmcgi runtime inside the interpreter
// (a bug, not a script error).
type RuntimeError struct{ Msg string }

func (e *RuntimeError) Error() string { return "pyhost: runtime failure: " + e.Msg }
