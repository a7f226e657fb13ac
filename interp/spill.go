package interp

import "time"

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
// leave the lock they share free (their threads used less than spillBusy
// of a core since the last look) or each runs a long job (spillLong).
// Workers that keep the CPU busy with short jobs would only take turns
// with one more, losing time at each hand-over of the lock; workers
// waiting on I/O leave room for it; a worker busy with a long job would
// keep every job queued behind it waiting until it ends.
func (p *Pool[I]) spillTo(j *job[I]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j.state.Load() != stateQueued || len(p.hot)+len(p.cold) == 0 {
		return
	}
	if !p.parallel && !p.longJobs() && p.cpuShare() >= spillBusy {
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
// busy with short jobs; where they run in parallel, while the oldest
// queued job has waited less than Spill/2. p.mu must be held, and the
// queue not empty.
func (p *Pool[I]) crowded() bool {
	if p.parallel {
		return time.Since(p.epoch)-p.queue.head.enqueued < p.spill/2
	}
	return !p.longJobs() && p.cpuShare() >= spillBusy
}

// spillBusy is the share of a core the workers' threads may use for a
// waiting job to go to an idle worker (Spill).
const spillBusy = 0.6

// spillLong is how long a job runs before it counts as long: then, where
// the workers share a lock, the jobs queued behind its worker go to an
// idle one whatever its CPU use, and take turns with it for the lock (a
// long job's thread hands it over every switch interval: pyhost's
// gilswitch.c). Without it a script computing for a second kept every
// request queued behind its worker waiting for that second; jobs shorter
// than this still run one after another on one thread (cpu5ms.py at -c 8
// lost 10-45% of its rate when two workers took turns at every job).
const spillLong = 50 * time.Millisecond

// longJobs reports whether some worker is busy and every busy worker's
// job has run spillLong or more. p.mu must be held.
func (p *Pool[I]) longJobs() bool {
	now := int64(time.Since(p.epoch)) + 1
	long := false
	for i := range p.cur {
		w := p.cur[i].Load()
		if w == nil {
			continue
		}
		start := w.running.Load()
		if start <= 0 {
			continue // idle, or abandoned (another worker has its number)
		}
		if now-start < int64(spillLong) {
			return false
		}
		long = true
	}
	return long
}

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
