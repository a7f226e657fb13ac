package interp

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Interpreter is what each worker owns: one instance per worker, created on
// the worker's OS thread and used only from it. Close is called exactly
// once, on that same thread, when the worker retires.
type Interpreter interface {
	Close() error
}

// Options configures a Pool. The zero value is usable.
type Options struct {
	// Workers is the number of workers, each with its own OS thread and
	// interpreter. Zero or less means max(runtime.NumCPU(), 2).
	Workers int
	// QueueSize bounds how many jobs may wait for a worker while none is
	// idle. Zero or less means 4*Workers. When the queue is full, Do fails
	// at once with ErrQueueFull. A job whose caller gives up leaves the
	// queue at once, so it stops counting against the bound.
	QueueSize int
	// QueueTimeout bounds how long a job may wait in the queue before a
	// worker takes it. When it passes, Do returns ErrQueueTimeout (which
	// also matches ErrQueueFull with errors.Is) and the job never runs.
	// Zero means no limit beyond the caller's context. The limit applies to
	// waiting only: a job that a worker has taken always runs to
	// completion. It is counted from the end of Do's first short poll (see
	// "Hand-off" in the package documentation), so it may be exceeded by
	// some microseconds.
	QueueTimeout time.Duration
	// Logger receives the pool's records (panicking jobs, failed
	// replacements, worker life cycle at Debug). Nil means discard.
	Logger *slog.Logger
	// MaxRequests retires a worker after it has run this many jobs: its
	// interpreter is closed on its thread after the last job, and a new
	// worker (thread and interpreter) takes its place. Zero: never.
	MaxRequests int
	// StuckAfter abandons a job still running this long after it
	// started: Abandon is called with the job's interpreter, and a new
	// worker (thread and interpreter) takes the number of the job's
	// worker, so the pool keeps its capacity while the job, which
	// nothing can stop from outside, goes on. When the job returns at
	// last, its interpreter is closed and its worker exits. Do still
	// waits for the job; Close does not. Zero: never.
	StuckAfter time.Duration
	// Abandon is called on a goroutine of the pool's when a job is
	// abandoned, while the job still runs, with the job's interpreter (of
	// the pool's type I) and whether a new worker took its place (so the
	// interpreter will never run another job); it must not block for
	// long.
	Abandon func(ip Interpreter, replaced bool)
	// Spill, when above zero, keeps jobs on as few workers as the load
	// needs: while a worker is busy (or just done, and not yet back for
	// the next job), a new job waits for it, and goes to an idle worker
	// only after waiting Spill in the queue, if the busy workers leave
	// their lock free. Short jobs then run one after another on one warm
	// thread, and slow ones (waiting on I/O) still get the other workers.
	// For interpreters that share one lock, where two threads running
	// short jobs at once only contend for it; see Parallel for those that
	// do not.
	Spill time.Duration
	// Parallel says the interpreters run at the same time (each has its
	// own lock). With Spill, a job that has waited Spill goes to an idle
	// worker whatever the busy workers' CPU use, and a worker that
	// finishes steps back while the job at the head of the queue has
	// waited less than Spill/2: short jobs stay on one thread, leaving
	// the other cores to the goroutines that serve the connections, and
	// long ones spread over the cores.
	Parallel bool
	// MaxStuck bounds how many abandoned jobs may run at once with a
	// worker started in their place. Past it (and always when MaxStuck
	// is negative: an interpreter of which there cannot be a second, such
	// as CPython's main one) an abandoned job's worker is not replaced:
	// its number has no live worker until the job returns, and then the
	// worker serves again. Zero means Workers.
	MaxStuck int
}

// Stats is a snapshot of a pool's counters. Each field is read atomically,
// but the snapshot as a whole is not: under load the fields may disagree
// by a job or two.
type Stats struct {
	// Workers is the number of live workers.
	Workers int
	// Busy is the number of workers running a job now.
	Busy int
	// Queued is the number of jobs waiting for a worker.
	Queued int
	// Served counts jobs that ran, including those that panicked.
	Served uint64
	// Rejected counts Do calls refused with ErrQueueFull or ErrQueueTimeout.
	Rejected uint64
	// Canceled counts jobs withdrawn from the queue because their context
	// ended.
	Canceled uint64
	// Panics counts jobs that panicked or called runtime.Goexit.
	Panics uint64
	// Replaced counts workers started in place of a retired one: after
	// MaxRequests jobs, after a job called runtime.Goexit, on Restart,
	// or in place of an abandoned job's worker.
	Replaced uint64
	// Abandoned counts jobs given up on after Options.StuckAfter.
	Abandoned uint64
	// Stuck is the number of abandoned jobs still running.
	Stuck int
}

// WorkerStats is one worker's state, as Pool.Workers reports it.
type WorkerStats struct {
	// ID is the worker number, 0 to Workers-1. A replacement worker
	// takes the number of the one it replaces.
	ID int
	// Live reports whether a worker with this number is running (false
	// while a replacement starts, or after one failed to start).
	Live bool
	// Busy reports whether it is running a job now.
	Busy bool
	// Served counts the jobs run under this number since the pool
	// started, by this worker and the ones it replaced.
	Served uint64
	// Replaced counts how many times a worker with this number was
	// replaced.
	Replaced uint64
}

// Errors returned by Do. Each message starts with "interp: ".
var (
	// ErrQueueFull means no worker is idle and the wait queue is full.
	ErrQueueFull = errors.New("interp: queue full")
	// ErrClosed means Close has begun; the job was not accepted.
	ErrClosed = errors.New("interp: pool closed")
	// ErrQueueTimeout means the job waited Options.QueueTimeout without a
	// worker taking it; it did not run. errors.Is(ErrQueueTimeout,
	// ErrQueueFull) is true, so callers that only answer "overloaded" need
	// to check ErrQueueFull alone.
	ErrQueueTimeout error = queueTimeoutError{}
	// ErrJobExited means the job called runtime.Goexit (for example through
	// testing.T.FailNow). The worker's thread ended with it; its interpreter
	// was closed on that thread and a replacement worker was started.
	ErrJobExited = errors.New("interp: job called runtime.Goexit")
)

var errFactoryExited = errors.New("interp: interpreter factory called runtime.Goexit")

type queueTimeoutError struct{}

func (queueTimeoutError) Error() string { return "interp: timed out waiting for a worker" }

// Is makes ErrQueueTimeout match ErrQueueFull.
func (queueTimeoutError) Is(target error) bool { return target == ErrQueueFull }

// PanicError is returned by Do when the job panicked. The worker recovers
// and keeps serving with the same interpreter.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the worker goroutine's stack at the time of the panic.
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("interp: job panicked: %v", e.Value) }

// Unwrap returns Value if it is an error, so errors.Is and errors.As see
// through a panic(err).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Log attribute keys.
const (
	keyWorker = "worker"
	keyErr    = "err"
	keyStack  = "stack"
)
