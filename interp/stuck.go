package interp

import (
	"fmt"
	"runtime/debug"
	"time"
)

// jobAbandoned is worker.running of a job given up on.
const jobAbandoned = -1

// begin marks w's job as started, for the stuck-job watch and Spill's
// long jobs.
func (p *Pool[I]) begin(w *worker[I]) {
	if p.timed() {
		w.running.Store(int64(time.Since(p.epoch)) + 1)
	}
}

// timed reports whether the pool notes when each job started.
func (p *Pool[I]) timed() bool {
	return p.stuckAfter > 0 || p.spill > 0
}

// ended marks w's job as returned. It reports whether w goes on serving:
// false when the job had been abandoned and another worker has w's
// number.
func (p *Pool[I]) ended(w *worker[I]) bool {
	if !p.timed() || w.running.Swap(0) != jobAbandoned {
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
