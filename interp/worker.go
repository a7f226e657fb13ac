package interp

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
)

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
	// given up on. Only kept with Options.StuckAfter or Spill.
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
