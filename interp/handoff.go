package interp

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
)

// Spin windows of the hand-off; see "Hand-off" in doc.go for why, and
// BenchmarkSpin to measure them. They are variables so that tests and
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
	// Spill. Guarded by Pool.mu.
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
