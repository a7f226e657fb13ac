package interp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Stuck jobs (Options.StuckAfter): a job that overruns is given up on,
// its owner hears of it, and the pool keeps serving at full capacity.

// TestStuckJobReplaced: with one worker, a job that never returns is
// abandoned (Abandon gets its interpreter), a new worker serves the next
// jobs meanwhile, Close does not wait for the stuck job, and when the job
// returns at last its interpreter is closed.
func TestStuckJobReplaced(t *testing.T) {
	var mu sync.Mutex
	var given []*fakeInterp
	fa := &factory{}
	p, err := New(Options{Workers: 1, StuckAfter: 50 * time.Millisecond,
		Abandon: func(ip Interpreter, replaced bool) {
			if !replaced {
				t.Error("Abandon: replaced = false, want true")
			}
			mu.Lock()
			given = append(given, ip.(*fakeInterp))
			mu.Unlock()
		}}, fa.new)
	if err != nil {
		t.Fatal(err)
	}
	b := newBlocker()
	var stuckIP *fakeInterp
	stuckDone := make(chan error, 1)
	go func() {
		stuckDone <- p.Do(context.Background(), func(ip *fakeInterp) {
			stuckIP = ip
			b.job(ip)
		})
	}()
	b.waitStarted(t, 1)
	eventually(t, "the stuck job is abandoned", func() bool { return p.Stats().Abandoned == 1 })
	// The replacement serves, on another interpreter.
	var other *fakeInterp
	for range 3 {
		if err := p.Do(context.Background(), func(ip *fakeInterp) { other = ip }); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	if len(given) != 1 || given[0] == other {
		t.Errorf("Abandon got %v; the next jobs ran on %p", given, other)
	}
	mu.Unlock()
	st := p.Stats()
	if st.Stuck != 1 || st.Workers != 1 || st.Replaced != 1 {
		t.Errorf("Stats() = %+v, want Stuck 1, Workers 1, Replaced 1", st)
	}
	if n := len(fa.all()); n != 2 {
		t.Errorf("%d interpreters made, want 2", n)
	}

	// Close returns with the job still stuck: only the live worker
	// is waited for.
	closePool(t, p)
	if other.closes.Load() != 1 {
		t.Error("the replacement's interpreter was not closed")
	}
	b.release <- struct{}{}
	if err := recv(t, stuckDone, "the stuck job's Do"); err != nil {
		t.Errorf("stuck job's Do = %v, want nil", err)
	}
	if stuckIP != given[0] {
		t.Errorf("Abandon got %p, the stuck job ran on %p", given[0], stuckIP)
	}
	eventually(t, "the abandoned interpreter is closed", func() bool { return stuckIP.closes.Load() == 1 })
	if st := p.Stats(); st.Stuck != 0 {
		t.Errorf("after the job returned: Stuck = %d", st.Stuck)
	}
}

// TestStuckJobNotReplaced: with MaxStuck negative (an interpreter that
// cannot have a second), the abandoned job's worker is not replaced:
// later jobs wait, and run on the same interpreter once the job returns.
func TestStuckJobNotReplaced(t *testing.T) {
	called := make(chan struct{}, 1)
	p, fa := newPool(t, Options{Workers: 1, StuckAfter: 50 * time.Millisecond, MaxStuck: -1,
		Abandon: func(_ Interpreter, replaced bool) {
			if replaced {
				t.Error("Abandon: replaced = true with MaxStuck -1")
			}
			called <- struct{}{}
		}})
	b := newBlocker()
	stuckDone := make(chan error, 1)
	go func() { stuckDone <- p.Do(context.Background(), b.job) }()
	b.waitStarted(t, 1)
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("Abandon was not called")
	}
	if st := p.Stats(); st.Workers != 0 || st.Stuck != 1 || st.Replaced != 0 {
		t.Errorf("Stats() = %+v, want Workers 0, Stuck 1, Replaced 0", st)
	}
	next := make(chan error, 1)
	var ran *fakeInterp
	go func() { next <- p.Do(context.Background(), func(ip *fakeInterp) { ran = ip }) }()
	eventually(t, "the next job queues", func() bool { return p.Stats().Queued == 1 })
	b.release <- struct{}{}
	if err := recv(t, stuckDone, "the stuck job's Do"); err != nil {
		t.Error(err)
	}
	if err := recv(t, next, "the queued job's Do"); err != nil {
		t.Error(err)
	}
	if all := fa.all(); len(all) != 1 || ran != all[0] {
		t.Errorf("%d interpreters; the queued job ran on %p", len(all), ran)
	}
	if st := p.Stats(); st.Workers != 1 || st.Stuck != 0 {
		t.Errorf("Stats() = %+v, want Workers 1, Stuck 0", st)
	}
}

// TestStuckLimit: past MaxStuck abandoned jobs, no more workers are made.
func TestStuckLimit(t *testing.T) {
	p, fa := newPool(t, Options{Workers: 1, StuckAfter: 30 * time.Millisecond, MaxStuck: 2})
	b := newBlocker()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Do(context.Background(), b.job); err != nil {
				t.Error(err)
			}
		}()
		b.waitStarted(t, 1)
		eventually(t, "the job is abandoned", func() bool { return p.Stats().Abandoned == uint64(i+1) })
	}
	// Three stuck, two replaced: the third's worker has no successor.
	eventually(t, "the second replacement starts", func() bool { return len(fa.all()) == 3 })
	if st := p.Stats(); st.Stuck != 3 || st.Workers != 0 || st.Replaced != 2 {
		t.Errorf("Stats() = %+v, want Stuck 3, Workers 0, Replaced 2", st)
	}
	close(b.release)
	wg.Wait()
	eventually(t, "the last worker serves again", func() bool { return p.Stats().Workers == 1 })
	if err := p.Do(context.Background(), func(*fakeInterp) {}); err != nil {
		t.Error(err)
	}
	if n := len(fa.all()); n != 3 {
		t.Errorf("%d interpreters made, want 3", n)
	}
}

// TestReplacementRetried: a replacement worker whose interpreter fails to
// start is tried again, after a growing delay, until one starts.
func TestReplacementRetried(t *testing.T) {
	oldMin := retryMin
	retryMin = 5 * time.Millisecond
	t.Cleanup(func() { retryMin = oldMin })
	var mu sync.Mutex
	calls := 0
	fa := &factory{fail: func(int) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		// The first call makes the first worker; the next two fail.
		if calls == 2 || calls == 3 {
			return errors.New("no interpreter for now")
		}
		return nil
	}}
	p, err := New(Options{Workers: 1, MaxRequests: 1}, fa.new)
	if err != nil {
		t.Fatal(err)
	}
	defer closePool(t, p)
	if err := p.Do(context.Background(), func(*fakeInterp) {}); err != nil {
		t.Fatal(err)
	}
	// The worker retired after its one job; its replacement starts on the
	// third try.
	eventually(t, "a replacement starts", func() bool { return p.Stats().Workers == 1 })
	if err := p.Do(context.Background(), func(*fakeInterp) {}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls < 4 || len(fa.all()) < 2 {
		t.Errorf("%d factory calls, %d interpreters: want the failed starts retried", calls, len(fa.all()))
	}
}

// TestCloseSkipsStuck: Close does not wait for an abandoned job, even one
// whose worker was not replaced; the job ends later without a worker.
func TestCloseSkipsStuck(t *testing.T) {
	fa := &factory{}
	p, err := New(Options{Workers: 1, StuckAfter: 20 * time.Millisecond, MaxStuck: -1}, fa.new)
	if err != nil {
		t.Fatal(err)
	}
	b := newBlocker()
	done := make(chan error, 1)
	go func() { done <- p.Do(context.Background(), b.job) }()
	b.waitStarted(t, 1)
	eventually(t, "the job is abandoned", func() bool { return p.Stats().Stuck == 1 })
	closePool(t, p)
	close(b.release)
	if err := recv(t, done, "the stuck job's Do"); err != nil {
		t.Error(err)
	}
	ip := fa.all()[0]
	eventually(t, "its interpreter is closed", func() bool { return ip.closes.Load() == 1 })
	if err := p.Do(context.Background(), func(*fakeInterp) {}); err != ErrClosed {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
}
