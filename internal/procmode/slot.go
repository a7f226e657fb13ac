package procmode

import (
	"context"
	"sync"
	"syscall"
	"time"
)

// retireGrace is how long a retired worker process may take to exit
// before it is killed.
const retireGrace = 5 * time.Second

// Slot is what each interp pool worker owns in process mode: the place of
// one worker process, restarted when it dies. It satisfies
// interp.Interpreter (Close).
type Slot struct {
	id      int // the pool's worker number, for the status page
	pc      *parent
	mu      sync.Mutex // held while a request runs, so Reload waits for it
	cur     *Child
	next    chan startResult // a replacement being started, or nil
	backoff time.Duration    // before the next start, after failed starts
	closed  bool
	env     []byte
	args    []byte
	frame   []byte
	scratch []byte // what a read of a script's pipe lands in
	poll    *poller
	eof     int    // the stdin of a request without a body (newEOFPipe); -1: none
	seq     uint64 // requests run, naming their descriptors in poll
}

type startResult struct {
	c   *Child
	err error
}

// Pool makes Slots that share one configuration.
type Pool struct {
	pc *parent
}

// NewPool checks c and finds this binary, to start worker processes with.
func NewPool(c Config) (*Pool, error) {
	pc, err := newParent(c)
	if err != nil {
		return nil, err
	}
	return &Pool{pc: pc}, nil
}

// NewSlot starts a worker process and returns its slot once it is ready.
func (p *Pool) NewSlot(id int) (*Slot, error) {
	poll, err := newPoller()
	if err != nil {
		return nil, err
	}
	eof, err := newEOFPipe()
	if err != nil {
		poll.close()
		return nil, err
	}
	c, err := p.pc.start()
	if err != nil {
		poll.close()
		syscall.Close(eof)
		return nil, err
	}
	return &Slot{id: id, pc: p.pc, cur: c, poll: poll, eof: eof}, nil
}

// ID is the worker number the slot was made with.
func (w *Slot) ID() int { return w.id }

// Close stops the worker process after its current request.
func (w *Slot) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.next != nil {
		r := <-w.next
		w.next = nil
		if r.c != nil {
			r.c.retire(retireGrace)
			<-r.c.exited
		}
	}
	if w.cur != nil {
		w.cur.retire(retireGrace)
		<-w.cur.exited
		w.cur = nil
	}
	if w.poll != nil {
		w.poll.close()
		w.poll = nil
	}
	if w.eof >= 0 {
		syscall.Close(w.eof)
		w.eof = -1
	}
	return nil
}

// prestart starts a replacement worker process in the background, after
// the back-off that repeated failures have built up.
func (w *Slot) prestart() {
	ch := make(chan startResult, 1)
	w.next = ch
	delay := w.backoff
	go func() {
		if delay > 0 {
			time.Sleep(delay)
		}
		c, err := w.pc.start()
		ch <- startResult{c, err}
	}()
}

// child returns the worker process to run the next request in.
func (w *Slot) child(ctx context.Context) (*Child, error) {
	if w.cur != nil {
		return w.cur, nil
	}
	if w.next == nil {
		w.prestart()
	}
	select {
	case r := <-w.next:
		w.next = nil
		if r.err != nil {
			// Back off exponentially, so a Python that cannot start does
			// not make the server spin.
			w.backoff = min(max(2*w.backoff, 100*time.Millisecond), 30*time.Second)
			w.pc.logger.Error("worker process failed to start", "err", r.err, "retry_in", w.backoff)
			return nil, r.err
		}
		w.cur = r.c
		return r.c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// drop forgets the current worker process (dead, killed or retired) and
// starts its replacement at once, so the next request does not wait.
func (w *Slot) drop() {
	w.cur = nil
	if w.next == nil {
		w.prestart()
	}
}

// Reload starts a new worker process, then swaps it in once the current
// request (if any) is done, and lets the old one exit.
func (w *Slot) Reload() {
	c, err := w.pc.start()
	if err != nil {
		w.pc.logger.Error("reload: new worker process failed to start; keeping the old one", "err", err)
		return
	}
	w.mu.Lock()
	old := w.cur
	if w.closed {
		old = c
	} else {
		w.cur = c
	}
	w.mu.Unlock()
	if old != nil {
		old.retire(retireGrace)
	}
}
