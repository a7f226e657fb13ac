package interp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
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

// Spin windows of the hand-off; see "Hand-off" in doc.go for the
// measurements behind them. They are variables so that tests and
// benchmarks can compare variants; New copies them, so a change affects
// only pools created afterwards.
var (
	// workerSpin is how long an idle worker polls its mailbox, keeping its
	// thread and P, before it blocks.
	workerSpin = 5 * time.Microsecond
	// callerSpin is how long Do polls for completion, yielding with
	// runtime.Gosched between polls, before it blocks.
	callerSpin = 20 * time.Microsecond
)

// Job states.
const (
	// stateQueued: in Pool.queue; its caller may still withdraw it.
	stateQueued uint32 = iota
	// stateRunning: given to a worker; it will run to completion.
	stateRunning
)

// job is one Do call in flight. Jobs are recycled through Pool.jobPool, so
// a steady stream of Do calls allocates nothing in the pool.
type job[I Interpreter] struct {
	fn  func(I)
	err error
	// state is written under Pool.mu and read without it.
	state atomic.Uint32
	// prev and next link the job into Pool.queue; guarded by Pool.mu.
	prev, next *job[I]
	// done receives one value when the job has run. Its buffer of one lets
	// the worker signal without waiting, and lets a spinning caller poll it.
	done chan struct{}
	// timer enforces QueueTimeout, spill Options.Spill; each is created
	// on first need and reused.
	timer, spill *time.Timer
	// enqueued is when the job joined the queue (since Pool.epoch), with
	// Spill and Parallel. Guarded by Pool.mu.
	enqueued time.Duration
}

// jobList is the wait queue: a doubly linked list through the jobs
// themselves, so that a caller giving up can unlink its job in O(1) and the
// job stops counting against QueueSize at once.
type jobList[I Interpreter] struct {
	head, tail *job[I]
	n          int
}

func (l *jobList[I]) push(j *job[I]) {
	j.prev, j.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = j
	} else {
		l.head = j
	}
	l.tail = j
	l.n++
}

func (l *jobList[I]) pop() *job[I] {
	j := l.head
	if j != nil {
		l.remove(j)
	}
	return j
}

func (l *jobList[I]) remove(j *job[I]) {
	if j.prev != nil {
		j.prev.next = j.next
	} else {
		l.head = j.next
	}
	if j.next != nil {
		j.next.prev = j.prev
	} else {
		l.tail = j.prev
	}
	j.prev, j.next = nil, nil
	l.n--
}

// worker is one worker goroutine's hand-off point.
type worker[I Interpreter] struct {
	id int
	// ip is the worker's interpreter, for Options.Abandon.
	ip I
	// recycle tells the worker goroutine, woken by a nil mail, to be
	// replaced (Restart).
	recycle bool
	// mail carries the next job to an idle worker; a nil job tells it to
	// exit. A worker is on at most one idle stack, and whoever pops it
	// sends exactly once, so the buffer of one never blocks the sender.
	mail chan *job[I]
	// running is when the running job started (time since the pool's
	// epoch, plus one), 0 while idle, jobAbandoned once the job has been
	// given up on. Only kept with Options.StuckAfter.
	running atomic.Int64
	// detached: the worker's job was abandoned and another worker took
	// its number; it only closes its interpreter when the job returns.
	// Guarded by Pool.mu.
	detached bool
	// tid is the worker's thread (it is locked to it), for Spill.
	tid int
	// given is closed once Options.Abandon has returned for the
	// worker's abandoned job: its interpreter is not used or closed
	// before. Made under Pool.mu when the job is abandoned.
	given chan struct{}
}

// jobAbandoned is worker.running of a job given up on.
const jobAbandoned = -1

// slot holds one worker's counters. It is padded to two cache lines so
// that workers never write to a line another worker writes to.
type slot struct {
	busy atomic.Bool
	// claimed is set under Pool.mu when a job is handed to the worker,
	// and cleared when the worker is back for the next one. From the
	// hand-off until the job starts, and from its end until the worker is
	// idle again, the worker is not busy, but with Spill no other job
	// should go to another worker meanwhile (anyBusy).
	claimed  atomic.Bool
	live     atomic.Bool
	retire   atomic.Bool // Restart: replace this worker after its job
	replaced atomic.Uint32
	served   atomic.Uint64
	_        [128 - 24]byte
}

// Pool runs jobs on a fixed set of workers, each a goroutine locked to its
// own OS thread for its whole life and owning one interpreter of type I.
// All methods are safe for concurrent use.
type Pool[I Interpreter] struct {
	newInterp    func(worker int) (I, error)
	log          *slog.Logger
	maxRequests  int
	queueSize    int
	queueTimeout time.Duration
	workerSpin   time.Duration
	callerSpin   time.Duration
	maxHot       int // how many idle workers may poll at once
	spill        time.Duration
	parallel     bool
	jobPool      sync.Pool
	stuckAfter   time.Duration
	abandon      func(Interpreter, bool)
	maxStuck     int
	epoch        time.Time
	// cur holds each number's current worker, for the stuck-job watch.
	cur []atomic.Pointer[worker[I]]
	// fails counts each number's replacements that failed to start in a
	// row; guarded by mu.
	fails []int
	// The workers' threads' CPU time at cpuAt, and the share of a core
	// they used before (cpuShare); guarded by mu.
	cpuAt   time.Time
	cpuSum  time.Duration
	cpuLast float64

	mu     sync.Mutex
	closed bool
	queue  jobList[I]
	// hot holds idle workers that are polling their mailbox, cold those
	// blocked on it; the most recently idle is last. A job goes to the last
	// hot worker, else to the last cold one, else into the queue.
	hot  []*worker[I]
	cold []*worker[I]

	queued   atomic.Int64 // queue.n, for Stats
	stuck    int          // abandoned jobs still running; guarded by mu
	stuckNow atomic.Int64 // stuck, for Stats
	given    atomic.Uint64
	live     atomic.Int64
	rejected atomic.Uint64
	canceled atomic.Uint64
	panics   atomic.Uint64
	slots    []slot

	wg        sync.WaitGroup // one per running worker goroutine
	closeOnce sync.Once
	exited    chan struct{} // closed when every worker has exited after Close
	errMu     sync.Mutex
	closeErrs []error // from interpreters' Close, in retirement order
}

// New starts the workers and waits until each has created its interpreter.
// newInterp runs on the worker's own locked thread, once per worker, with
// worker numbers 0 to Workers-1; the workers start concurrently, so calls
// for different workers may overlap. If any call fails (or panics), New
// closes the interpreters that were created, each on its own thread, waits
// for all workers to exit, and returns the failures joined, each prefixed
// with its worker number.
func New[I Interpreter](opts Options, newInterp func(worker int) (I, error)) (*Pool[I], error) {
	if newInterp == nil {
		return nil, errors.New("interp: nil interpreter factory")
	}
	n := opts.Workers
	if n <= 0 {
		n = max(runtime.NumCPU(), 2)
	}
	q := opts.QueueSize
	if q <= 0 {
		q = 4 * n
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	p := &Pool[I]{
		newInterp:    newInterp,
		log:          lg,
		queueSize:    q,
		queueTimeout: max(opts.QueueTimeout, 0),
		workerSpin:   workerSpin,
		callerSpin:   callerSpin,
		maxHot:       max(runtime.GOMAXPROCS(0)/2, 1),
		maxRequests:  max(opts.MaxRequests, 0),
		spill:        max(opts.Spill, 0),
		parallel:     opts.Parallel,
		stuckAfter:   max(opts.StuckAfter, 0),
		abandon:      opts.Abandon,
		maxStuck:     opts.MaxStuck,
		epoch:        time.Now(),
		cur:          make([]atomic.Pointer[worker[I]], n),
		fails:        make([]int, n),
		hot:          make([]*worker[I], 0, n),
		cold:         make([]*worker[I], 0, n),
		slots:        make([]slot, n),
		exited:       make(chan struct{}),
	}
	p.jobPool.New = func() any { return &job[I]{done: make(chan struct{}, 1)} }

	ready := make(chan startResult, n)
	for w := range n {
		p.wg.Add(1)
		go p.work(w, ready)
	}
	errs := make([]error, n)
	failed := false
	for range n {
		r := <-ready
		if r.err != nil {
			errs[r.worker] = fmt.Errorf("interp: worker %d: %w", r.worker, r.err)
			failed = true
		}
	}
	if failed {
		// Close cannot block here: no job was accepted, so every created
		// worker is idle and exits at once.
		cerr := p.Close(context.Background())
		return nil, errors.Join(append(errs, cerr)...)
	}
	if p.maxStuck == 0 {
		p.maxStuck = n
	}
	if p.stuckAfter > 0 {
		go p.watch()
	}
	return p, nil
}

type startResult struct {
	worker int
	err    error
}

// Do runs fn on one of the workers' threads with that worker's interpreter
// and waits for it to return.
//
// Do returns ErrQueueFull at once if no worker is idle and the queue is
// full, ErrClosed if Close has begun, ctx.Err() if ctx ends before a worker
// takes the job, and ErrQueueTimeout if Options.QueueTimeout passes first;
// in all these cases fn never runs. Once a worker has taken the job, fn
// runs to completion whatever happens to ctx, and Do waits for it, so
// memory that fn uses stays the caller's until Do returns. If fn panics, Do
// returns a *PanicError and the worker goes on serving. Otherwise Do
// returns nil.
//
// fn runs on the worker's locked thread. It must not keep ip after it
// returns, must not undo the thread lock (an UnlockOSThread without its
// own LockOSThread), and must not wait on another Do of the same pool:
// with every worker busy, that would wait for itself.
func (p *Pool[I]) Do(ctx context.Context, fn func(ip I)) error {
	if fn == nil {
		return errors.New("interp: nil job")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	j := p.jobPool.Get().(*job[I])
	j.fn = fn
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.recycle(j)
		return ErrClosed
	}
	if w := p.pick(); w != nil {
		j.state.Store(stateRunning)
		p.slots[w.id].claimed.Store(true)
		p.mu.Unlock()
		w.mail <- j
		return p.wait(ctx, j)
	}
	if p.queue.n >= p.queueSize {
		p.mu.Unlock()
		p.recycle(j)
		p.rejected.Add(1)
		return ErrQueueFull
	}
	if p.parallel && p.spill > 0 {
		j.enqueued = time.Since(p.epoch)
	}
	p.queue.push(j)
	p.queued.Store(int64(p.queue.n))
	p.mu.Unlock()
	return p.wait(ctx, j)
}

// pick removes and returns the idle worker a new job goes to now, or nil
// if the job is to wait in the queue. Without Spill that is any idle
// worker. With Spill, any idle one while no worker is busy (a lone job
// must not wait), and any idle one rather than refusing the job when the
// queue is full. p.mu must be held.
func (p *Pool[I]) pick() *worker[I] {
	if p.spill == 0 || p.queue.n >= p.queueSize || !p.anyBusy() {
		return p.popIdle()
	}
	return nil
}

// anyBusy reports whether a worker has a job or is just done with one
// (slot.claimed): a new job then waits for that worker rather than wake
// another. p.mu must be held.
func (p *Pool[I]) anyBusy() bool {
	for i := range p.slots {
		if p.slots[i].busy.Load() || p.slots[i].claimed.Load() {
			return true
		}
	}
	return false
}

// spillTo gives a job that has waited Spill in the queue to an idle
// worker, if there is one, the job is still queued, and the busy workers
// leave the lock they share free: their threads used less than
// spillBusy of a core since the last look. Workers that keep the CPU
// busy would only take turns with one more; workers waiting on I/O leave
// room for it.
func (p *Pool[I]) spillTo(j *job[I]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j.state.Load() != stateQueued || len(p.hot)+len(p.cold) == 0 || !p.parallel && p.cpuShare() >= spillBusy {
		return
	}
	w := p.popIdle()
	if w == nil {
		return
	}
	p.queue.remove(j)
	p.queued.Store(int64(p.queue.n))
	j.state.Store(stateRunning)
	p.slots[w.id].claimed.Store(true)
	w.mail <- j
}

// crowded reports, with Spill, whether the busy workers are enough for
// the queued jobs: where they share a lock, while their threads keep it
// busy; where they run in parallel, while the oldest queued job has
// waited less than Spill/2. p.mu must be held, and the queue not empty.
func (p *Pool[I]) crowded() bool {
	if p.parallel {
		return time.Since(p.epoch)-p.queue.head.enqueued < p.spill/2
	}
	return p.cpuShare() >= spillBusy
}

// spillBusy is the share of a core the workers' threads may use for a
// waiting job to go to an idle worker (Spill).
const spillBusy = 0.6

// cpuShare returns the share of one core the workers' threads used since
// it was last asked, at most every Spill/2 (between, the last answer);
// 0 where threads' CPU time is unknown. Without a recent look to compare
// with, it looks now and answers 1: a waiting job is looked at again
// after another Spill. p.mu must be held.
func (p *Pool[I]) cpuShare() float64 {
	now := time.Now()
	if now.Sub(p.cpuAt) < p.spill/2 {
		return p.cpuLast
	}
	var cpu time.Duration
	for i := range p.cur {
		if w := p.cur[i].Load(); w != nil {
			c := threadCPU(w.tid)
			if c < 0 {
				p.cpuAt, p.cpuLast = now, 0
				return 0
			}
			cpu += c
		}
	}
	share := 1.0
	if !p.cpuAt.IsZero() && now.Sub(p.cpuAt) <= 10*p.spill {
		share = float64(cpu-p.cpuSum) / float64(now.Sub(p.cpuAt))
	}
	p.cpuAt, p.cpuSum, p.cpuLast = now, cpu, share
	return share
}

// popIdle removes and returns the idle worker that will start a job
// soonest, or nil if none is idle. p.mu must be held.
func (p *Pool[I]) popIdle() *worker[I] {
	if n := len(p.hot); n > 0 {
		w := p.hot[n-1]
		p.hot = p.hot[:n-1]
		return w
	}
	if n := len(p.cold); n > 0 {
		w := p.cold[n-1]
		p.cold = p.cold[:n-1]
		return w
	}
	return nil
}

// wait waits for j to finish, or for the caller to give up on it while it
// is still queued.
func (p *Pool[I]) wait(ctx context.Context, j *job[I]) error {
	// Poll first: a job that finishes within the window hands its result
	// over without parking and waking the caller. Only a job a worker has
	// taken: a queued one waits for the jobs ahead of it, and polling
	// meanwhile only takes CPU from them (hello.py at -c 8, one worker:
	// 8% less CPU per request, p99 halved).
	if p.callerSpin > 0 && j.state.Load() == stateRunning {
		start := time.Now()
		for {
			select {
			case <-j.done:
				return p.finish(j)
			default:
			}
			if time.Since(start) >= p.callerSpin {
				break
			}
			runtime.Gosched()
		}
	}
	if j.state.Load() == stateRunning {
		<-j.done
		return p.finish(j)
	}
	var timeout, spill <-chan time.Time
	if p.queueTimeout > 0 {
		if j.timer == nil {
			j.timer = time.NewTimer(p.queueTimeout)
		} else {
			j.timer.Reset(p.queueTimeout)
		}
		timeout = j.timer.C
	}
	if p.spill > 0 {
		if j.spill == nil {
			j.spill = time.NewTimer(p.spill)
		} else {
			j.spill.Reset(p.spill)
		}
		spill = j.spill.C
	}
	var err error
wait:
	select {
	case <-j.done:
		p.stopTimer(j)
		return p.finish(j)
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = ErrQueueTimeout
	case <-spill:
		// Moved, or looked at again after another Spill.
		p.spillTo(j)
		j.spill.Reset(p.spill)
		goto wait
	}
	p.stopTimer(j)
	p.mu.Lock()
	if j.state.Load() == stateQueued {
		p.queue.remove(j)
		p.queued.Store(int64(p.queue.n))
		p.mu.Unlock()
		if err == ErrQueueTimeout {
			p.rejected.Add(1)
		} else {
			p.canceled.Add(1)
		}
		p.recycle(j)
		return err
	}
	p.mu.Unlock()
	// A worker took it just now: it runs, so wait for it after all.
	<-j.done
	return p.finish(j)
}

func (p *Pool[I]) stopTimer(j *job[I]) {
	if j.timer != nil {
		j.timer.Stop()
	}
	if j.spill != nil {
		j.spill.Stop()
	}
}

// finish takes the result of a job that has run and recycles the job.
func (p *Pool[I]) finish(j *job[I]) error {
	err := j.err
	p.recycle(j)
	return err
}

func (p *Pool[I]) recycle(j *job[I]) {
	j.fn = nil
	j.err = nil
	j.state.Store(stateQueued)
	p.jobPool.Put(j)
}

// Close stops accepting jobs (Do returns ErrClosed from now on), lets the
// queued and running jobs finish, closes each interpreter on its own
// thread, and waits for the workers to exit. It returns the interpreters'
// Close errors joined, or ctx.Err() if ctx ends first; the workers then go
// on draining in the background, and a later Close call waits again.
func (p *Pool[I]) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		idle := append(append([]*worker[I](nil), p.hot...), p.cold...)
		p.hot, p.cold = nil, nil
		p.mu.Unlock()
		// Idle workers mean an empty queue; the busy ones drain it and
		// then see closed.
		for _, w := range idle {
			w.mail <- nil
		}
		go func() {
			p.wg.Wait()
			close(p.exited)
		}()
	})
	select {
	case <-p.exited:
	default:
		select {
		case <-p.exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return errors.Join(p.closeErrs...)
}

// Restart replaces every worker (interpreter and thread) with a new one,
// one worker at a time, so the others keep serving: a worker retires after
// its current job (an idle one at once), and the next is asked only when
// its replacement runs. Jobs are never dropped; they wait in the queue as
// usual. Restart returns when every worker has been replaced, or with
// ctx.Err() or ErrClosed.
func (p *Pool[I]) Restart(ctx context.Context) error {
	for id := range p.slots {
		s := &p.slots[id]
		before := s.replaced.Load()
		if !s.live.Load() {
			continue // failed to start, or being replaced already
		}
		s.retire.Store(true)
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		for _, stack := range []*[]*worker[I]{&p.hot, &p.cold} {
			if i := slices.IndexFunc(*stack, func(w *worker[I]) bool { return w.id == id }); i >= 0 {
				w := (*stack)[i]
				*stack = slices.Delete(*stack, i, i+1)
				w.recycle = true
				w.mail <- nil
			}
		}
		p.mu.Unlock()
		for s.replaced.Load() == before || !s.live.Load() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-p.exited:
				return ErrClosed
			case <-time.After(time.Millisecond):
			}
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return ErrClosed
			}
		}
	}
	return nil
}

// Stats returns the pool's counters. It only loads atomics.
func (p *Pool[I]) Stats() Stats {
	s := Stats{
		Workers:  int(p.live.Load()),
		Queued:   int(p.queued.Load()),
		Rejected: p.rejected.Load(),
		Canceled: p.canceled.Load(),
		Panics:   p.panics.Load(),
		Stuck:    int(p.stuckNow.Load()),

		Abandoned: p.given.Load(),
	}
	for i := range p.slots {
		if p.slots[i].busy.Load() {
			s.Busy++
		}
		s.Served += p.slots[i].served.Load()
		s.Replaced += uint64(p.slots[i].replaced.Load())
	}
	return s
}

// Workers appends the state of each worker number to buf and returns it.
// Like Stats it only loads atomics, and the entries may disagree with
// each other by a job or two.
func (p *Pool[I]) Workers(buf []WorkerStats) []WorkerStats {
	for i := range p.slots {
		s := &p.slots[i]
		buf = append(buf, WorkerStats{
			ID:       i,
			Live:     s.live.Load(),
			Busy:     s.busy.Load(),
			Served:   s.served.Load(),
			Replaced: uint64(s.replaced.Load()),
		})
	}
	return buf
}

// work is a worker goroutine's whole life. When it returns, its thread is
// still locked, so the Go runtime terminates the thread.
func (p *Pool[I]) work(id int, ready chan<- startResult) {
	runtime.LockOSThread() // Never unlocked: see "Threads" in doc.go.
	w := &worker[I]{id: id, mail: make(chan *job[I], 1), tid: gettid()}
	defer func() {
		// A detached worker was already counted out, when its job was
		// abandoned: Close does not wait for a job that may never end.
		p.mu.Lock()
		detached := w.detached
		p.mu.Unlock()
		if !detached {
			p.wg.Done()
		}
	}()

	reported := false
	defer func() {
		if !reported && ready != nil {
			// The factory called runtime.Goexit; New must still hear of it.
			ready <- startResult{id, errFactoryExited}
		}
	}()
	ip, err := p.create(id)
	reported = true
	if err == nil {
		p.slots[id].retire.Store(false)
		p.live.Add(1) // Before New hears of it, so that Stats agrees.
		p.slots[id].live.Store(true)
	}
	if ready != nil {
		ready <- startResult{id, err}
	}
	if err != nil {
		if ready == nil {
			p.retryLater(id, err)
		}
		return
	}
	if ready == nil {
		p.mu.Lock()
		p.fails[id] = 0
		p.mu.Unlock()
	}
	p.log.Debug("interp: worker started", keyWorker, id)

	returned := false
	defer func() {
		if returned || p.isDetached(w) {
			return
		}
		// A job called runtime.Goexit, which cannot be stopped. This
		// goroutine and its thread are ending; close the interpreter while
		// still on the thread and start a replacement.
		p.retire(id, ip)
		p.replace(id)
	}()
	w.ip = ip
	recycle := p.serve(w, ip)
	returned = true
	if p.isDetached(w) {
		// Its job was abandoned and has returned at last; another worker
		// has its number.
		<-w.given
		if err := closeInterp(ip); err != nil {
			p.log.Warn("interp: closing an abandoned job's interpreter failed", keyWorker, id, keyErr, err)
		}
		p.log.Info("interp: an abandoned job returned; its interpreter is closed", keyWorker, id)
		return
	}
	p.retire(id, ip)
	if recycle {
		if p.slots[id].retire.Load() {
			p.log.Info("interp: worker replaced on request (restart)", keyWorker, id)
		} else {
			p.log.Info("interp: worker recycled after its request limit", keyWorker, id, "requests", p.maxRequests)
		}
		p.replace(id)
	}
}

// create calls the factory, turning a panic into an error.
func (p *Pool[I]) create(id int) (ip I, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return p.newInterp(id)
}

// retire closes the worker's interpreter on the current (its own) thread.
func (p *Pool[I]) retire(id int, ip I) {
	p.live.Add(-1)
	p.slots[id].live.Store(false)
	err := closeInterp(ip)
	if err != nil {
		err = fmt.Errorf("interp: worker %d: close: %w", id, err)
		p.errMu.Lock()
		p.closeErrs = append(p.closeErrs, err)
		p.errMu.Unlock()
		p.log.Warn("interp: closing interpreter failed", keyWorker, id, keyErr, err)
	}
	p.log.Debug("interp: worker exited", keyWorker, id)
}

func closeInterp[I Interpreter](ip I) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return ip.Close()
}

// Backoff of a replacement worker that failed to start: the first retry
// after retryMin, each next one after twice as long, up to retryMax.
var (
	retryMin = 100 * time.Millisecond
	retryMax = 30 * time.Second
)

// retryLater starts a replacement worker again, after a delay that grows
// with each failure in a row, unless the pool is closing by then.
func (p *Pool[I]) retryLater(id int, err error) {
	p.mu.Lock()
	n := p.fails[id]
	p.fails[id]++
	p.mu.Unlock()
	delay := retryMax
	if n < 20 {
		delay = min(retryMin<<n, retryMax)
	}
	p.log.Error("interp: replacement worker failed to start; retrying", keyWorker, id, keyErr, err, "in", delay)
	time.AfterFunc(delay, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return
		}
		p.wg.Add(1)
		go p.work(id, nil)
	})
}

// replace starts a new worker with the given number unless the pool is
// closing.
func (p *Pool[I]) replace(id int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	// The exiting worker has not called wg.Done yet, so the count cannot
	// touch zero in between.
	p.slots[id].replaced.Add(1)
	p.wg.Add(1)
	go p.work(id, nil)
}

// serve runs jobs until the pool is closed and the queue is empty, or
// until the worker has run MaxRequests jobs (then it reports true: the
// worker is to be replaced).
func (p *Pool[I]) serve(w *worker[I], ip I) (recycle bool) {
	p.cur[w.id].Store(w)
	s := &p.slots[w.id]
	for n := 1; ; n++ {
		j := p.take(w)
		if j == nil {
			return w.recycle // Restart took it while idle, or Close
		}
		s.busy.Store(true)
		p.begin(w)
		p.run(w.id, ip, j)
		if !p.ended(w) {
			j.done <- struct{}{}
			return false
		}
		s.busy.Store(false)
		s.served.Add(1)
		j.done <- struct{}{}
		// From here on j belongs to its caller again.
		if n == p.maxRequests || s.retire.Load() {
			s.claimed.Store(false)
			return true
		}
	}
}

// take returns the worker's next job: the head of the queue, else the next
// job a caller hands it while it is idle. It returns nil when the worker
// must exit.
func (p *Pool[I]) take(w *worker[I]) *job[I] {
	p.mu.Lock()
	p.slots[w.id].claimed.Store(false)
	// With Spill, a worker steps back while another is busy and enough
	// for the queue (crowded): the queued jobs go to that one, one after
	// another, or are moved by their own Spill checks.
	shrink := p.spill > 0 && !p.closed && p.queue.n > 0 && p.anyBusy() && p.crowded()
	if !shrink {
		if j := p.queue.pop(); j != nil {
			j.state.Store(stateRunning)
			p.queued.Store(int64(p.queue.n))
			p.slots[w.id].claimed.Store(true)
			p.mu.Unlock()
			return j
		}
	}
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	// Go idle. A blocked locked thread costs a futex wake-up and a P
	// hand-off to restart, so a few idle workers poll for a while first;
	// the rest keep their Ps free for the goroutines producing work.
	// With Spill, not while another worker is busy: no job comes before
	// that one is done.
	hot := p.workerSpin > 0 && len(p.hot) < p.maxHot && !shrink && (p.spill == 0 || !p.anyBusy())
	if hot {
		p.hot = append(p.hot, w)
	} else {
		p.cold = append(p.cold, w)
	}
	p.mu.Unlock()
	if hot {
		if j, ok := p.poll(w); ok {
			return j
		}
		p.mu.Lock()
		if i := slices.Index(p.hot, w); i >= 0 {
			p.hot = slices.Delete(p.hot, i, i+1)
			p.cold = append(p.cold, w)
		}
		// Otherwise someone popped w, and its mail is on the way.
		p.mu.Unlock()
	}
	return <-w.mail
}

// poll busy-waits up to workerSpin for mail. It must not call
// runtime.Gosched: for a goroutine locked to its thread that hands the P
// off and parks the thread, the very cost polling avoids.
func (p *Pool[I]) poll(w *worker[I]) (*job[I], bool) {
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case j := <-w.mail:
			return j, true
		default:
		}
		if i%32 == 0 && time.Since(start) >= p.workerSpin {
			return nil, false
		}
	}
}

// run calls j.fn and stores its outcome in j.err. If fn calls
// runtime.Goexit, run still signals the caller (with ErrJobExited) before
// the worker goroutine unwinds.
func (p *Pool[I]) run(id int, ip I, j *job[I]) {
	returned := false
	defer func() {
		if returned {
			return
		}
		p.panics.Add(1)
		if v := recover(); v != nil {
			pe := &PanicError{Value: v, Stack: debug.Stack()}
			p.log.Error("interp: job panicked", keyWorker, id, keyErr, pe, keyStack, string(pe.Stack))
			j.err = pe
			return
		}
		p.log.Error("interp: job called runtime.Goexit; replacing the worker", keyWorker, id)
		j.err = ErrJobExited
		p.slots[id].busy.Store(false)
		p.slots[id].claimed.Store(false)
		p.slots[id].served.Add(1)
		j.done <- struct{}{}
	}()
	j.fn(ip)
	returned = true
}

// begin marks w's job as started, for the stuck-job watch.
func (p *Pool[I]) begin(w *worker[I]) {
	if p.stuckAfter > 0 {
		w.running.Store(int64(time.Since(p.epoch)) + 1)
	}
}

// ended marks w's job as returned. It reports whether w goes on serving:
// false when the job had been abandoned and another worker has w's
// number.
func (p *Pool[I]) ended(w *worker[I]) bool {
	if p.stuckAfter == 0 || w.running.Swap(0) != jobAbandoned {
		return true
	}
	// The job was marked abandoned under mu, with given made: wait for
	// Abandon to return.
	p.mu.Lock()
	given := w.given
	p.mu.Unlock()
	<-given
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stuck--
	p.stuckNow.Store(int64(p.stuck))
	if w.detached {
		return false
	}
	if p.closed {
		// Close is not waiting for it: it ends without being counted.
		w.detached = true
		return false
	}
	// No worker was started in its place: it takes its number back, and
	// Close waits for it again.
	p.wg.Add(1)
	p.live.Add(1)
	p.slots[w.id].live.Store(true)
	p.log.Info("interp: an abandoned job returned; its worker serves again", keyWorker, w.id)
	return true
}

func (p *Pool[I]) isDetached(w *worker[I]) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return w.detached
}

// watch abandons the jobs that have run longer than StuckAfter. It looks
// a few times per StuckAfter, so a job is given up on at most a quarter
// of it (and never more than a quarter second) late.
func (p *Pool[I]) watch() {
	tick := time.NewTicker(min(p.stuckAfter/4, 250*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-p.exited:
			return
		case <-tick.C:
		}
		now := int64(time.Since(p.epoch)) + 1
		for i := range p.cur {
			w := p.cur[i].Load()
			if w == nil {
				continue
			}
			if start := w.running.Load(); start > 0 && now-start >= int64(p.stuckAfter) {
				p.giveUp(w, start, time.Duration(now-start))
			}
		}
	}
}

// giveUp abandons w's job that started at start, if it still runs: w's
// number gets a new worker (unless MaxStuck are stuck already, or the
// pool is closing), Close stops waiting for w, and the job's owner hears
// of it through Options.Abandon.
func (p *Pool[I]) giveUp(w *worker[I], start int64, ran time.Duration) {
	s := &p.slots[w.id]
	p.mu.Lock()
	if !w.running.CompareAndSwap(start, jobAbandoned) {
		p.mu.Unlock()
		return // it has just returned
	}
	p.given.Add(1)
	p.stuck++
	p.stuckNow.Store(int64(p.stuck))
	p.live.Add(-1)
	s.live.Store(false)
	s.busy.Store(false)
	s.claimed.Store(false)
	replace := !p.closed && p.maxStuck > 0 && p.stuck <= p.maxStuck
	w.given = make(chan struct{})
	if replace {
		w.detached = true
		s.replaced.Add(1)
		p.wg.Add(1)
		go p.work(w.id, nil)
	}
	// Close does not wait for a job that may never end; a worker that
	// gets its number back is counted again (ended).
	p.wg.Done()
	p.mu.Unlock()
	if replace {
		p.log.Error("interp: job still running after its limit: abandoned, and its worker replaced",
			keyWorker, w.id, "ran", ran.Round(time.Millisecond), "stuck", p.stuckNow.Load())
	} else {
		p.log.Error("interp: job still running after its limit: abandoned; no worker replaces it",
			keyWorker, w.id, "ran", ran.Round(time.Millisecond), "stuck", p.stuckNow.Load(), "max_stuck", p.maxStuck)
	}
	defer close(w.given)
	if p.abandon != nil {
		defer func() {
			if v := recover(); v != nil {
				p.log.Error("interp: Abandon panicked", keyWorker, w.id, keyErr, fmt.Sprint(v), keyStack, string(debug.Stack()))
			}
		}()
		p.abandon(w.ip, replace)
	}
}
