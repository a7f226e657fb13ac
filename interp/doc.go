// Package interp runs work on a fixed pool of workers, each a goroutine
// locked to its own OS thread for its whole life and owning one interpreter
// created on that thread. It has no cgo and no knowledge of Python: the
// interpreter type is a type parameter, so tests use a fake.
//
// # Threads
//
// A worker calls runtime.LockOSThread before anything else and never calls
// runtime.UnlockOSThread. The factory passed to New creates the worker's
// interpreter on that thread, every job the worker takes runs on it, and
// the interpreter's Close runs on it when the worker retires. When the
// worker goroutine then returns, still locked, the Go runtime ends the
// thread instead of giving it back to the scheduler. (The process's main
// thread cannot end; if a worker happened to get it, the runtime parks it
// for good, which serves as well.)
//
// Ending the thread is the point. CPython ties thread states, the GIL
// and thread-local data to the OS thread, and per-thread kernel state,
// such as a working directory made private with unshare(CLONE_FS), stays
// with the thread too. A thread given back to the scheduler could run any
// other goroutine, or a later cgo call, while still carrying a dead
// interpreter's state. A thread that ends cannot. The price is one thread
// creation per worker life, paid at start-up and when a worker is
// replaced, never per request.
//
// # Life cycle
//
// New starts all workers at once. Each calls the factory with its worker
// number, and New returns when every worker has answered. The factory may
// therefore run for several workers at the same time. If any call fails,
// New closes the interpreters already made, each on its own thread, before
// it returns the error.
//
// Do hands a job to a worker and waits for it. A job waits in the queue
// only while no worker is idle, and at most Options.QueueSize jobs wait;
// beyond that Do fails at once with ErrQueueFull, which the HTTP layer
// answers with 503. A queued job is withdrawn, and never runs, if its
// context ends or Options.QueueTimeout passes (ErrQueueTimeout, which also
// matches ErrQueueFull). Once a worker has taken a job, the job runs to
// completion and Do waits for it even if the context has ended, so the
// buffers the job uses stay valid while it runs. A panic in a job is
// recovered and returned as a *PanicError, and the worker and its
// interpreter carry on. A job that calls runtime.Goexit ends its worker's
// thread: the pool closes that interpreter on the thread, returns
// ErrJobExited, and starts a replacement worker with the same number.
//
// Close stops accepting jobs, lets the queued and running ones finish,
// closes every interpreter on its own thread and waits for the workers. Its
// context bounds the wait, not the drain.
//
// # Hand-off
//
// The hand-off is on the path of every request, and waking a blocked
// locked thread is its main cost: a locked goroutine that blocks cannot
// let its thread run anything else, so the runtime hands its P away and
// puts the thread to sleep on a futex, and restarting it takes a futex
// wake and a P hand-off (BenchmarkChanRoundTrip compares a round trip to
// a locked and to an unlocked goroutine). So the pool avoids blocking on
// either side while work is close:
//
//   - Idle workers sit on two LIFO stacks under one mutex. Hot workers are
//     polling their one-slot mailbox channel; cold ones are blocked on it.
//     Do gives a job to the most recently idle hot worker, else to the most
//     recently idle cold one, else appends it to the wait queue. A worker
//     that finishes takes from the queue before it goes idle. LIFO keeps the
//     work on the threads that are awake.
//   - An idle worker polls its mailbox for workerSpin before it blocks. It
//     polls without runtime.Gosched, because for a locked goroutine Gosched
//     itself parks the thread. At most GOMAXPROCS/2 workers (at least one)
//     poll at a time, so the others' Ps stay free for the goroutines that
//     produce work. The window is short: a worker polling between requests
//     keeps a core that the goroutines serving the connections need.
//   - Do polls for completion for callerSpin, calling runtime.Gosched
//     between polls, before it blocks, but only when a worker took its job
//     at once: a queued job's caller blocks, since polling through the
//     queue's wait only takes CPU from the work ahead of it. Without the
//     caller's polling, a finishing worker readies the parked caller onto
//     its own P and then keeps that P while it polls.
//   - Completion is signalled on a one-slot channel in a pooled job
//     struct. The send never blocks the worker, and a polling caller sees
//     it without being woken. Jobs, their channels and their QueueTimeout
//     timers are recycled through a sync.Pool, so Do allocates nothing.
//
// A job longer than the caller's window still pays for one blocked caller
// and one blocked worker. BenchmarkSpin compares polling on neither side,
// either, or both.
package interp
