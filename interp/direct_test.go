package interp

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Direct mode (Options.Direct): jobs run on their callers' goroutines with
// an idle worker's interpreter; the rest of the contract is unchanged.

// TestDirectRunsOnCaller: the job runs on the caller's own thread, not the
// worker's, and one interpreter is never used by two jobs at once.
func TestDirectRunsOnCaller(t *testing.T) {
	p, fa := newPool(t, Options{Workers: 2, Direct: true})
	if gettid() != 0 {
		done := make(chan [2]int)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var in int
			if err := p.Do(context.Background(), func(*fakeInterp) { in = gettid() }); err != nil {
				t.Error(err)
			}
			done <- [2]int{gettid(), in}
		}()
		tids := <-done
		if tids[0] != tids[1] {
			t.Errorf("job ran on thread %d, its caller is on %d", tids[1], tids[0])
		}
		for _, f := range fa.all() {
			if f.createTID == tids[1] {
				t.Errorf("job ran on worker %d's own thread", f.worker)
			}
		}
	}

	var inUse sync.Map
	var overlap atomic.Bool
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				err := p.Do(context.Background(), func(ip *fakeInterp) {
					if _, busy := inUse.LoadOrStore(ip, true); busy {
						overlap.Store(true)
					}
					ip.jobs++
					runtime.Gosched()
					inUse.Delete(ip)
				})
				if err != nil && !errors.Is(err, ErrQueueFull) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if overlap.Load() {
		t.Error("two jobs used one interpreter at once")
	}
	st := p.Stats()
	if st.Served+st.Rejected != 1+8*200 || st.Busy != 0 {
		t.Errorf("Stats() = %+v, want Served+Rejected %d, Busy 0", st, 1+8*200)
	}
}

// TestDirectQueue: with every worker busy, jobs queue up to QueueSize (the
// next is refused), a queued job whose time runs out never runs, and the
// queued ones run, in turn, when workers come free.
func TestDirectQueue(t *testing.T) {
	const workers, queue = 1, 2
	p, _ := newPool(t, Options{Workers: workers, QueueSize: queue, QueueTimeout: 5 * time.Second, Direct: true})
	b := newBlocker()
	errs := make(chan error, workers+queue)
	go func() { errs <- p.Do(context.Background(), b.job) }()
	b.waitStarted(t, workers)
	var ran atomic.Int32
	for range queue {
		go func() { errs <- p.Do(context.Background(), func(*fakeInterp) { ran.Add(1) }) }()
	}
	eventually(t, "the queue is full", func() bool { return p.Stats().Queued == queue })
	if err := p.Do(context.Background(), func(*fakeInterp) { t.Error("the refused job ran") }); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Do on a full queue = %v, want ErrQueueFull", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Do(ctx, func(*fakeInterp) { t.Error("the canceled job ran") }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a canceled context = %v", err)
	}
	close(b.release)
	for range workers + queue {
		if err := recv(t, errs, "Do"); err != nil {
			t.Error(err)
		}
	}
	if ran.Load() != queue {
		t.Errorf("%d queued jobs ran, want %d", ran.Load(), queue)
	}
}

// TestDirectQueueTimeout: a job that waits longer than QueueTimeout fails
// with ErrQueueTimeout and never runs.
func TestDirectQueueTimeout(t *testing.T) {
	p, _ := newPool(t, Options{Workers: 1, QueueTimeout: 50 * time.Millisecond, Direct: true})
	b := newBlocker()
	errs := make(chan error, 1)
	go func() { errs <- p.Do(context.Background(), b.job) }()
	b.waitStarted(t, 1)
	if err := p.Do(context.Background(), func(*fakeInterp) { t.Error("the timed-out job ran") }); !errors.Is(err, ErrQueueTimeout) {
		t.Errorf("Do = %v, want ErrQueueTimeout", err)
	}
	close(b.release)
	if err := recv(t, errs, "Do"); err != nil {
		t.Error(err)
	}
}

// TestDirectCloseDrains: Close lets the running and queued jobs finish,
// closes every interpreter once, on the thread that made it.
func TestDirectCloseDrains(t *testing.T) {
	fa := &factory{}
	p, err := New(Options{Workers: 2, QueueSize: 4, Direct: true}, fa.new)
	if err != nil {
		t.Fatal(err)
	}
	b := newBlocker()
	var ran atomic.Int32
	errs := make(chan error, 6)
	for range 2 {
		go func() { errs <- p.Do(context.Background(), func(ip *fakeInterp) { b.job(ip); ran.Add(1) }) }()
	}
	b.waitStarted(t, 2)
	for range 4 {
		go func() { errs <- p.Do(context.Background(), func(*fakeInterp) { ran.Add(1) }) }()
	}
	eventually(t, "the queue is full", func() bool { return p.Stats().Queued == 4 })
	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	eventually(t, "Do returns ErrClosed", func() bool {
		return errors.Is(p.Do(context.Background(), func(*fakeInterp) {}), ErrClosed)
	})
	close(b.release)
	if err := recv(t, closed, "Close"); err != nil {
		t.Errorf("Close: %v", err)
	}
	for range 6 {
		if err := recv(t, errs, "Do accepted before Close"); err != nil {
			t.Error(err)
		}
	}
	if ran.Load() != 6 {
		t.Errorf("%d jobs ran, want 6", ran.Load())
	}
	for _, f := range fa.all() {
		if f.closes.Load() != 1 {
			t.Errorf("worker %d: %d closes, want 1", f.worker, f.closes.Load())
		}
		if gettid() != 0 && f.closeTID != f.createTID {
			t.Errorf("worker %d: closed on thread %d, made on %d", f.worker, f.closeTID, f.createTID)
		}
	}
}

// TestDirectMaxRequests: a worker is replaced after MaxRequests jobs, and a
// panicking job counts, returns a *PanicError and leaves the pool serving.
func TestDirectMaxRequests(t *testing.T) {
	p, fa := newPool(t, Options{Workers: 1, MaxRequests: 2, Direct: true})
	var used []*fakeInterp
	for i := range 5 {
		err := p.Do(context.Background(), func(ip *fakeInterp) {
			used = append(used, ip)
			if i == 2 {
				panic("boom")
			}
		})
		var pe *PanicError
		if i == 2 && !errors.As(err, &pe) {
			t.Errorf("job %d: %v, want a *PanicError", i, err)
		} else if i != 2 && err != nil {
			t.Errorf("job %d: %v", i, err)
		}
	}
	if used[0] != used[1] || used[1] == used[2] || used[2] != used[3] || used[3] == used[4] {
		t.Errorf("interpreters per job: %p %p %p %p %p; want a new one after every 2 jobs", used[0], used[1], used[2], used[3], used[4])
	}
	eventually(t, "the third interpreter is live", func() bool { return len(fa.all()) == 3 && p.Stats().Workers == 1 })
	if st := p.Stats(); st.Replaced != 2 || st.Served != 5 || st.Panics != 1 {
		t.Errorf("Stats() = %+v, want Replaced 2, Served 5, Panics 1", st)
	}
}

// TestRestart: Restart replaces every worker, one at a time, waiting for
// a busy one to finish its job, while jobs keep being served.
func TestRestart(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(map[bool]string{false: "locked", true: "direct"}[direct], func(t *testing.T) {
			p, fa := newPool(t, Options{Workers: 2, Direct: direct, QueueSize: 100})
			b := newBlocker()
			busy := make(chan error, 1)
			go func() { busy <- p.Do(context.Background(), b.job) }()
			b.waitStarted(t, 1)
			restarted := make(chan error, 1)
			go func() { restarted <- p.Restart(context.Background()) }()
			// The idle worker is replaced at once and keeps serving.
			for range 20 {
				if err := p.Do(context.Background(), func(*fakeInterp) {}); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-restarted:
				t.Fatalf("Restart returned %v while a worker was still busy", err)
			default:
			}
			close(b.release)
			if err := recv(t, busy, "the busy job"); err != nil {
				t.Error(err)
			}
			if err := recv(t, restarted, "Restart"); err != nil {
				t.Errorf("Restart: %v", err)
			}
			all := fa.all()
			if len(all) != 4 {
				t.Fatalf("%d interpreters made, want 4 (2 and their replacements)", len(all))
			}
			for _, f := range all[:2] {
				if f.closes.Load() != 1 {
					t.Errorf("worker %d's first interpreter: %d closes, want 1", f.worker, f.closes.Load())
				}
			}
			if st := p.Stats(); st.Replaced != 2 || st.Workers != 2 {
				t.Errorf("Stats() = %+v, want Replaced 2, Workers 2", st)
			}
			if err := p.Do(context.Background(), func(*fakeInterp) {}); err != nil {
				t.Error(err)
			}
		})
	}
}
