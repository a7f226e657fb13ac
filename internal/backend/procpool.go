package backend

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warmcgi/warmcgi/internal/procmode"
	"github.com/warmcgi/warmcgi/interp"
)

// slotPool lends process-mode slots to requests, which run on their own
// goroutine: a slot's work is I/O with its worker process and needs no
// OS thread of its own, and interp.Pool's hand-off to a locked thread
// (a futex wake each way, and a locked-thread wake for every time the
// request waits on the worker) cost the server more than the rest of a
// request. It keeps interp.Pool's contract for what process mode uses:
// the queue bound (interp.ErrQueueFull), the queue timeout
// (interp.ErrQueueTimeout), the caller's context while waiting, and the
// figures of interp.Stats and interp.WorkerStats.
type slotPool struct {
	slots        []*procmode.Slot
	idle         chan int // numbers of idle slots
	queueSize    int
	queueTimeout time.Duration
	closing      chan struct{}
	closeOnce    sync.Once
	mu           sync.RWMutex   // orders running.Add before Close's running.Wait
	isClosing    bool           // guarded by mu
	running      sync.WaitGroup // jobs that took a slot

	waiting                    atomic.Int64
	rejected, canceled, panics atomic.Uint64
	busy                       []atomic.Bool
	served                     []atomic.Uint64
	closed                     chan struct{} // closed when Close has closed every slot
}

// newSlotPool starts n slots with newSlot, in parallel; if one fails, the
// others are closed and the errors returned.
func newSlotPool(n, queueSize int, queueTimeout time.Duration, newSlot func(id int) (*procmode.Slot, error)) (*slotPool, error) {
	if n <= 0 {
		n = max(runtime.NumCPU(), 2)
	}
	if queueSize <= 0 {
		queueSize = 4 * n
	}
	p := &slotPool{slots: make([]*procmode.Slot, n), idle: make(chan int, n), queueSize: queueSize,
		queueTimeout: max(queueTimeout, 0), closing: make(chan struct{}), closed: make(chan struct{}),
		busy: make([]atomic.Bool, n), served: make([]atomic.Uint64, n)}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for id := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.slots[id], errs[id] = newSlot(id)
			if errs[id] != nil {
				errs[id] = fmt.Errorf("worker %d: %w", id, errs[id])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range p.slots {
			if s != nil {
				s.Close()
			}
		}
		return nil, err
	}
	for id := range n {
		p.idle <- id
	}
	return p, nil
}

// Do runs fn with an idle slot, waiting for one (in FIFO order) within
// the queue's bound and timeout and the caller's context.
func (p *slotPool) Do(ctx context.Context, fn func(*procmode.Slot)) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	var id int
	select {
	case <-p.closing:
		return interp.ErrClosed
	case id = <-p.idle:
	default:
		if id, err = p.await(ctx); err != nil {
			return err
		}
	}
	p.mu.RLock()
	if p.isClosing {
		p.mu.RUnlock()
		p.idle <- id
		return interp.ErrClosed
	}
	p.running.Add(1)
	p.mu.RUnlock()
	p.busy[id].Store(true)
	defer func() {
		if v := recover(); v != nil {
			p.panics.Add(1)
			err = &interp.PanicError{Value: v, Stack: debug.Stack()}
		}
		p.served[id].Add(1)
		p.busy[id].Store(false)
		p.idle <- id
		p.running.Done()
	}()
	fn(p.slots[id])
	return nil
}

// await waits in the queue for an idle slot.
func (p *slotPool) await(ctx context.Context) (int, error) {
	if p.waiting.Add(1) > int64(p.queueSize) {
		p.waiting.Add(-1)
		p.rejected.Add(1)
		return 0, interp.ErrQueueFull
	}
	defer p.waiting.Add(-1)
	var timeout <-chan time.Time
	if p.queueTimeout > 0 {
		t := time.NewTimer(p.queueTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case id := <-p.idle:
		return id, nil
	case <-p.closing:
		return 0, interp.ErrClosed
	case <-ctx.Done():
		p.canceled.Add(1)
		return 0, ctx.Err()
	case <-timeout:
		p.rejected.Add(1)
		return 0, interp.ErrQueueTimeout
	}
}

// Close refuses new jobs, lets the running ones finish and closes every
// slot (its worker process exits). It returns ctx.Err() if ctx ends
// first; the closing goes on in the background.
func (p *slotPool) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.isClosing = true
		close(p.closing)
		p.mu.Unlock()
		go func() {
			p.running.Wait()
			var wg sync.WaitGroup
			for _, s := range p.slots {
				wg.Add(1)
				go func() { defer wg.Done(); s.Close() }()
			}
			wg.Wait()
			close(p.closed)
		}()
	})
	select {
	case <-p.closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats is interp.Pool's figures for process mode.
func (p *slotPool) Stats() interp.Stats {
	s := interp.Stats{Workers: len(p.slots), Queued: int(max(p.waiting.Load(), 0)),
		Rejected: p.rejected.Load(), Canceled: p.canceled.Load(), Panics: p.panics.Load()}
	for i := range p.slots {
		if p.busy[i].Load() {
			s.Busy++
		}
		s.Served += p.served[i].Load()
	}
	return s
}

// Workers appends each slot's state to buf.
func (p *slotPool) Workers(buf []interp.WorkerStats) []interp.WorkerStats {
	for i := range p.slots {
		buf = append(buf, interp.WorkerStats{ID: i, Live: true, Busy: p.busy[i].Load(), Served: p.served[i].Load()})
	}
	return buf
}
