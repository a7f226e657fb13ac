package interp

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// Options.Spill: a job waits for the busy worker rather than wake an idle
// one, and goes to the idle one after waiting Spill. No worker polls in
// these tests (withSpin 0): only Spill moves a job to one.

// TestSpillWaitsForBusyWorker: a job waits for the busy worker rather
// than wake an idle one.
func TestSpillWaitsForBusyWorker(t *testing.T) {
	withSpin(t, 0, 0)
	p, _ := newPool(t, Options{Workers: 2, Spill: time.Hour})
	b := newBlocker()
	var first *fakeInterp
	done := make(chan error, 3)
	go func() {
		done <- p.Do(context.Background(), func(ip *fakeInterp) { first = ip; b.job(ip) })
	}()
	b.waitStarted(t, 1)
	ran := make([]*fakeInterp, 2)
	for i := range ran {
		go func() { done <- p.Do(context.Background(), func(ip *fakeInterp) { ran[i] = ip }) }()
	}
	eventually(t, "both jobs queue", func() bool { return p.Stats().Queued == 2 })
	close(b.release)
	for range 3 {
		if err := recv(t, done, "Do"); err != nil {
			t.Error(err)
		}
	}
	if ran[0] != first || ran[1] != first {
		t.Errorf("queued jobs ran on %p and %p, want both on the busy worker's %p", ran[0], ran[1], first)
	}
}

// TestSpillAfterDelay: a job that has waited Spill goes to the idle worker.
func TestSpillAfterDelay(t *testing.T) {
	withSpin(t, 0, 0)
	p, _ := newPool(t, Options{Workers: 2, Spill: 20 * time.Millisecond})
	b := newBlocker()
	var first *fakeInterp
	done := make(chan error, 1)
	go func() {
		done <- p.Do(context.Background(), func(ip *fakeInterp) { first = ip; b.job(ip) })
	}()
	b.waitStarted(t, 1)
	var second *fakeInterp
	if err := p.Do(context.Background(), func(ip *fakeInterp) { second = ip }); err != nil {
		t.Fatal(err)
	}
	close(b.release)
	if err := recv(t, done, "the blocked Do"); err != nil {
		t.Error(err)
	}
	if second == nil || second == first {
		t.Errorf("the waiting job ran on %p, want the idle worker (not %p)", second, first)
	}
}

// TestSpillAroundLongJob: a waiting job stays queued while the busy
// worker keeps a core busy (interpreters that share one lock), but only
// until the busy worker's job has run spillLong: then it goes to the idle
// worker, while the busy one still computes.
func TestSpillAroundLongJob(t *testing.T) {
	withSpin(t, 0, 0)
	if threadCPU(gettid()) < 0 {
		t.Skip("threads' CPU time is not known here")
	}
	const spill = 40 * time.Millisecond
	p, _ := newPool(t, Options{Workers: 2, Spill: spill})
	started := make(chan struct{})
	var first *fakeInterp
	var share float64
	var spinStart, spinEnd time.Time
	done := make(chan error, 1)
	go func() {
		done <- p.Do(context.Background(), func(ip *fakeInterp) {
			first = ip
			close(started)
			// Spin for a second of wall time, as a CPU-bound script.
			tid, t0, c0 := gettid(), time.Now(), threadCPU(gettid())
			spinStart = t0
			for time.Since(t0) < time.Second {
			}
			share = float64(threadCPU(tid)-c0) / float64(time.Since(t0))
			spinEnd = time.Now()
		})
	}()
	<-started
	var second *fakeInterp
	var ran time.Time
	if err := p.Do(context.Background(), func(ip *fakeInterp) { second, ran = ip, time.Now() }); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done, "the spinning Do"); err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatalf("the waiting job waited for the busy worker (%.0f%% of a core) to finish", share*100)
	}
	if !ran.Before(spinEnd) {
		t.Errorf("the waiting job ran after the busy one ended")
	}
	// The pool looks at windows of 20 ms or more: with 98% of a core
	// over the whole spin, no window falls below 76%.
	if share < 0.98 {
		t.Skipf("the spinning job got only %.0f%% of a core: the machine is too busy to tell", share*100)
	}
	if after := ran.Sub(spinStart); after < spillLong*3/4 {
		t.Errorf("the waiting job went to the idle worker %v into the busy one's job, which used %.0f%% of a core; want %v or more", after, share*100, spillLong)
	}
}

// TestSpillShortJobsStayOnOneWorker: short jobs from one or more callers
// all run on one worker.
func TestSpillShortJobsStayOnOneWorker(t *testing.T) {
	withSpin(t, 0, 0)
	// A worker that has just finished a job is not idle yet: a job
	// arriving then waits for it rather than wake the other worker
	// (the two would only take turns at the lock they share).
	for _, c := range []struct {
		callers  int
		parallel bool
	}{{1, false}, {4, false}, {4, true}} {
		callers := c.callers
		p, _ := newPool(t, Options{Workers: 2, Spill: time.Hour, Parallel: c.parallel})
		var mu sync.Mutex
		ran := map[*fakeInterp]int{}
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 300 {
					err := p.Do(context.Background(), func(ip *fakeInterp) {
						mu.Lock()
						ran[ip]++
						mu.Unlock()
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if len(ran) != 1 {
			t.Errorf("%d callers, parallel %v: jobs ran on %d workers (%v), want one", callers, c.parallel, len(ran), slices.Collect(maps.Values(ran)))
		}
	}
}

// TestSpillParallelAroundBusyCore: with Parallel, a waiting job goes to
// the idle worker even while the busy one uses a core.
func TestSpillParallelAroundBusyCore(t *testing.T) {
	withSpin(t, 0, 0)
	// Interpreters with a lock each: a job that has waited Spill
	// goes to the idle worker even while the busy one uses a core.
	p, _ := newPool(t, Options{Workers: 2, Spill: 20 * time.Millisecond, Parallel: true})
	started, stop := make(chan struct{}), make(chan struct{})
	var first *fakeInterp
	done := make(chan error, 1)
	go func() {
		done <- p.Do(context.Background(), func(ip *fakeInterp) {
			first = ip
			close(started)
			// Spin until the other job has run, or for 2 s (then
			// the other job runs after this one, on this worker).
			for t0 := time.Now(); time.Since(t0) < 2*time.Second; {
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}()
	<-started
	var second *fakeInterp
	err := p.Do(context.Background(), func(ip *fakeInterp) { second = ip })
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done, "the spinning Do"); err != nil {
		t.Fatal(err)
	}
	if second == nil || second == first {
		t.Errorf("the waiting job ran on %p, want the idle worker (not %p)", second, first)
	}
}

// TestSpillLoneJob: with no worker busy, a job does not wait for Spill.
func TestSpillLoneJob(t *testing.T) {
	withSpin(t, 0, 0)
	p, _ := newPool(t, Options{Workers: 2, Spill: time.Hour})
	for range 3 {
		if err := p.Do(context.Background(), func(*fakeInterp) {}); err != nil {
			t.Fatal(err)
		}
	}
}
