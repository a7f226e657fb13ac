package interp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

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
	if p.spill > 0 {
		j.enqueued = time.Since(p.epoch)
	}
	p.queue.push(j)
	p.queued.Store(int64(p.queue.n))
	p.mu.Unlock()
	return p.wait(ctx, j)
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
