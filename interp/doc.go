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
// thread is its main cost. On the 2-core VM where this was measured, a
// plain channel round trip to a locked goroutine takes 26–39 µs, against
// 0.3 µs to an unlocked one (BenchmarkChanRoundTrip). A locked goroutine
// that blocks cannot let its thread run anything else, so the runtime hands
// its P to another thread and puts the thread to sleep on a futex.
// Restarting it takes a futex wake and a P hand-off, and, if a core has
// gone idle meanwhile, the wake-up of a halted vCPU. So the pool avoids
// blocking on either side while work is close:
//
//   - Idle workers sit on two LIFO stacks under one mutex. Hot workers are
//     polling their one-slot mailbox channel; cold ones are blocked on it.
//     Do gives a job to the most recently idle hot worker, else to the most
//     recently idle cold one, else appends it to the wait queue. A worker
//     that finishes takes from the queue before it goes idle. LIFO keeps the
//     work on the threads that are awake. The first version used one
//     buffered channel shared by all workers. Its receive queue is FIFO, so
//     jobs went to the worker that had been blocked longest, and a job cost
//     24 µs with 8 workers and 8 callers.
//   - An idle worker polls its mailbox for 5 µs before it blocks. It polls
//     without runtime.Gosched, because for a locked goroutine Gosched
//     itself parks the thread. At most GOMAXPROCS/2 workers (at least one)
//     poll at a time, so the others' Ps stay free for the goroutines that
//     produce work.
//   - Do polls for completion for 20 µs, calling runtime.Gosched between
//     polls, before it blocks; only when a worker took its job at once (a
//     queued job's caller blocks: polling through the queue's wait only
//     took CPU from the work ahead of it). Without this, a finishing worker readies the
//     parked caller onto its own P, then keeps that P while it polls. With
//     polling only on the worker side, that is slower than no polling.
//   - Completion is signalled on a one-slot channel in a pooled job
//     struct. The send never blocks the worker, and a polling caller sees
//     it without being woken. Jobs, their channels and their QueueTimeout
//     timers are recycled through a sync.Pool, so Do allocates nothing.
//
// BenchmarkSpin compares the four combinations (go test -bench, 2-core
// VM, medians of 3, 0 allocs/op throughout). The job is empty or busy for
// 3 µs. With 8 callers, the time is wall time per job, not latency:
//
//	job  workers callers   no polling  worker only  caller only  both (default)
//	0    1       1            11 µs       15 µs       8.3 µs        1.1 µs
//	0    1       8           2.6 µs      1.4 µs       3.4 µs        1.2 µs
//	0    2       1            12 µs       16 µs       8.8 µs        1.2 µs
//	0    2       8           4.8 µs      3.9 µs       4.9 µs        1.3 µs
//	3µs  1       1            15 µs       18 µs       6.4 µs        4.3 µs
//	3µs  1       8           6.4 µs      6.7 µs       6.5 µs        7.0 µs
//	3µs  2       1            14 µs       17 µs       6.4 µs        4.3 µs
//	3µs  2       8           6.3 µs      4.8 µs       6.4 µs        5.0 µs
//
// Polling on both sides removes the wake-ups whenever the next job comes,
// or the job ends, within the window. Its cost is CPU: a worker polls for
// at most 5 µs after its last job, and a caller for at most 20 µs per
// call, only while its job runs (a queued job's caller blocks: polling
// through the queue's wait only took CPU from the work ahead of it). A
// job longer than the caller's window still pays for one blocked caller
// and one blocked worker. The windows are the unexported workerSpin and
// callerSpin.
//
// The worker's window was 20 µs, which halves the time per empty job in
// this benchmark (0.5 µs). In the server it cost the tail: a worker
// polling between requests keeps its P and a core that net/http's
// goroutines and wrk need. Side by side (wrk, -w 2, hello.py, 3 rounds),
// 5 µs against 20 µs: p99 at 8 connections 0.8-0.9 ms against 2.5-5.4 ms
// on 3.11 and 0.8 ms against 2.2 ms on 3.13, p99/p50 at 64 connections
// 3.0 against 4.1-7.2, at the same rate and CPU per request. No polling
// at all measured the same as 5 µs there, and 10 µs in between (p99
// 1.2-1.6 ms at 8 connections).
//
// BenchmarkSpin's rows with eight callers keep the queue full and do
// nothing else; there the rule that a queued job's caller does not poll
// makes the worker wait for woken callers to queue more. In the server,
// where the next request comes from the network, that rule measured
// better side by side (wrk -c 8, one worker, 3.11): hello.py 8% less CPU
// per request and p99 about halved, the form script 10-25% more requests
// a second.
package interp
