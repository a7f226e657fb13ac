package interp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeInterp records the thread it was created, used and closed on. Its
// fields other than closes are touched only on its worker's thread; tests
// read them after Close has returned, which orders them.
type fakeInterp struct {
	worker    int
	createTID int
	jobTIDs   []int
	jobs      int
	closeTID  int
	closes    atomic.Int32
	closeErr  error
}

func (f *fakeInterp) Close() error {
	f.closeTID = gettid()
	f.closes.Add(1)
	return f.closeErr
}

// factory makes fakeInterps and remembers them.
type factory struct {
	mu      sync.Mutex
	interps []*fakeInterp
	// fail, when set, decides the factory's error for a worker.
	fail func(worker int) error
	// closeErr is given to every interpreter.
	closeErr error
}

func (fa *factory) new(worker int) (*fakeInterp, error) {
	if fa.fail != nil {
		if err := fa.fail(worker); err != nil {
			return nil, err
		}
	}
	f := &fakeInterp{worker: worker, createTID: gettid(), closeErr: fa.closeErr}
	fa.mu.Lock()
	fa.interps = append(fa.interps, f)
	fa.mu.Unlock()
	return f, nil
}

func (fa *factory) all() []*fakeInterp {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return append([]*fakeInterp(nil), fa.interps...)
}

// newPool starts a pool of fakes and closes it when the test ends.
func newPool(t *testing.T, opts Options) (*Pool[*fakeInterp], *factory) {
	t.Helper()
	fa := &factory{}
	p, err := New(opts, fa.new)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p, fa
}

// closePool closes p and fails the test if that does not succeed in time.
func closePool[I Interpreter](t *testing.T, p *Pool[I]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// blocker is a job that signals when it starts and then waits for release.
type blocker struct {
	started chan struct{}
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blocker) job(*fakeInterp) {
	b.started <- struct{}{}
	<-b.release
}

// waitStarted waits for n jobs of b to start.
func (b *blocker) waitStarted(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-b.started:
		case <-time.After(5 * time.Second):
			t.Fatal("blocking job did not start")
		}
	}
}

// recv receives a Do result from ch, failing the test instead of hanging
// if none comes.
func recv(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// withSpin sets the spin windows for pools created by the test.
func withSpin(t *testing.T, worker, caller time.Duration) {
	t.Helper()
	ow, oc := workerSpin, callerSpin
	workerSpin, callerSpin = worker, caller
	t.Cleanup(func() { workerSpin, callerSpin = ow, oc })
}

var spinModes = []struct {
	name           string
	worker, caller time.Duration
}{
	{"spin", workerSpin, callerSpin},
	{"nospin", 0, 0},
}

func TestPoolThreadAffinity(t *testing.T) {
	if gettid() == 0 {
		t.Skip("no thread ids on this system")
	}
	for _, sm := range spinModes {
		t.Run(sm.name, func(t *testing.T) {
			withSpin(t, sm.worker, sm.caller)
			const workers, callers, perCaller = 3, 8, 50
			fa := &factory{}
			p, err := New(Options{Workers: workers, QueueSize: callers}, fa.new)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					for range perCaller {
						err := p.Do(context.Background(), func(ip *fakeInterp) {
							ip.jobTIDs = append(ip.jobTIDs, gettid())
							// Yield so that jobs interleave with other goroutines.
							runtime.Gosched()
						})
						if err != nil {
							t.Errorf("Do: %v", err)
						}
					}
				})
			}
			wg.Wait()
			closePool(t, p)

			interps := fa.all()
			if len(interps) != workers {
				t.Fatalf("%d interpreters created, want %d", len(interps), workers)
			}
			seen := map[int]int{}
			total := 0
			for _, ip := range interps {
				if prev, dup := seen[ip.createTID]; dup {
					t.Errorf("workers %d and %d share thread %d", prev, ip.worker, ip.createTID)
				}
				seen[ip.createTID] = ip.worker
				for i, tid := range ip.jobTIDs {
					if tid != ip.createTID {
						t.Errorf("worker %d: job %d ran on thread %d, interpreter created on %d", ip.worker, i, tid, ip.createTID)
					}
				}
				if ip.closeTID != ip.createTID {
					t.Errorf("worker %d: closed on thread %d, created on %d", ip.worker, ip.closeTID, ip.createTID)
				}
				if n := ip.closes.Load(); n != 1 {
					t.Errorf("worker %d: Close called %d times", ip.worker, n)
				}
				total += len(ip.jobTIDs)
			}
			if total != callers*perCaller {
				t.Errorf("%d jobs ran, want %d", total, callers*perCaller)
			}
			// The threads were never unlocked, so they must die with their
			// workers instead of returning to the Go scheduler.
			for _, ip := range interps {
				if ip.createTID == os.Getpid() {
					// The runtime cannot end the main thread; it parks it
					// forever instead, which equally prevents reuse.
					continue
				}
				eventually(t, fmt.Sprintf("thread %d of worker %d exits", ip.createTID, ip.worker), func() bool {
					return !threadAlive(ip.createTID)
				})
			}
		})
	}
}

func TestPoolConcurrentDo(t *testing.T) {
	tests := []struct {
		name             string
		workers, callers int
	}{
		{"workers=1", 1, 16},
		{"workers=2", 2, 16},
		{"workers=4", 4, 32},
	}
	for _, sm := range spinModes {
		for _, tt := range tests {
			t.Run(sm.name+"/"+tt.name, func(t *testing.T) {
				withSpin(t, sm.worker, sm.caller)
				const perCaller = 40
				p, fa := newPool(t, Options{Workers: tt.workers, QueueSize: tt.callers})
				if got := p.Stats().Workers; got != tt.workers {
					t.Errorf("Stats().Workers = %d, want %d", got, tt.workers)
				}
				var wg sync.WaitGroup
				for c := range tt.callers {
					wg.Go(func() {
						for i := range perCaller {
							in := c*1000 + i
							out := -1
							err := p.Do(context.Background(), func(ip *fakeInterp) {
								ip.jobs++
								out = in * 2
							})
							if err != nil {
								t.Errorf("Do: %v", err)
							} else if out != in*2 {
								t.Errorf("job result %d, want %d", out, in*2)
							}
						}
					})
				}
				wg.Wait()
				want := uint64(tt.callers * perCaller)
				st := p.Stats()
				if st.Served != want || st.Busy != 0 || st.Queued != 0 || st.Rejected != 0 {
					t.Errorf("Stats() = %+v, want Served %d and Busy, Queued, Rejected 0", st, want)
				}
				closePool(t, p)
				jobs := 0
				for _, ip := range fa.all() {
					jobs += ip.jobs
				}
				if uint64(jobs) != want {
					t.Errorf("interpreters saw %d jobs, want %d", jobs, want)
				}
				if st := p.Stats(); st.Workers != 0 {
					t.Errorf("after Close, Stats().Workers = %d, want 0", st.Workers)
				}
			})
		}
	}
}

func TestPoolQueueFull(t *testing.T) {
	const workers, queue = 2, 3
	p, _ := newPool(t, Options{Workers: workers, QueueSize: queue})
	b := newBlocker()
	errs := make(chan error, workers+queue)
	for range workers {
		go func() { errs <- p.Do(context.Background(), b.job) }()
	}
	b.waitStarted(t, workers)
	for range queue {
		go func() { errs <- p.Do(context.Background(), b.job) }()
	}
	eventually(t, "the queue is full", func() bool { return p.Stats().Queued == queue })

	var ran atomic.Bool
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := p.Do(ctx, func(*fakeInterp) { ran.Store(true) })
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Do on a full queue took %v, want an immediate failure", elapsed)
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Errorf("Do on a full queue = %v, want ErrQueueFull", err)
	}
	if st := p.Stats(); st.Rejected != 1 || st.Busy != workers {
		t.Errorf("Stats() = %+v, want Rejected 1, Busy %d", st, workers)
	}

	close(b.release)
	for range workers + queue {
		if err := recv(t, errs, "blocked or queued Do"); err != nil {
			t.Errorf("blocked or queued Do: %v", err)
		}
	}
	closePool(t, p)
	if ran.Load() {
		t.Error("the rejected job ran")
	}
	if st := p.Stats(); st.Served != workers+queue {
		t.Errorf("Served = %d, want %d", st.Served, workers+queue)
	}
}

func TestPoolContextWhileQueued(t *testing.T) {
	tests := []struct {
		name string
		// ctx returns the caller's context and a function to make it end.
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"canceled", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			return ctx, func() { <-ctx.Done(); cancel() }
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newPool(t, Options{Workers: 1, QueueSize: 4})
			b := newBlocker()
			blocked := make(chan error, 1)
			go func() { blocked <- p.Do(context.Background(), b.job) }()
			b.waitStarted(t, 1)

			ctx, end := tt.ctx()
			var ran atomic.Bool
			done := make(chan error, 1)
			go func() { done <- p.Do(ctx, func(*fakeInterp) { ran.Store(true) }) }()
			eventually(t, "the job is queued", func() bool { return p.Stats().Queued == 1 })
			end()
			select {
			case err := <-done:
				if !errors.Is(err, tt.want) {
					t.Errorf("Do = %v, want %v", err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Do did not return after its context ended")
			}

			close(b.release)
			if err := recv(t, blocked, "blocking Do"); err != nil {
				t.Errorf("blocking Do: %v", err)
			}
			// The worker must skip the withdrawn job and serve the next.
			if err := p.Do(context.Background(), func(*fakeInterp) {}); err != nil {
				t.Errorf("next Do: %v", err)
			}
			closePool(t, p)
			if ran.Load() {
				t.Error("the abandoned job ran")
			}
			if st := p.Stats(); st.Canceled != 1 || st.Served != 2 {
				t.Errorf("Stats() = %+v, want Canceled 1, Served 2", st)
			}
		})
	}
}

func TestPoolContextDoneBeforeDo(t *testing.T) {
	p, _ := newPool(t, Options{Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Bool
	if err := p.Do(ctx, func(*fakeInterp) { ran.Store(true) }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do = %v, want context.Canceled", err)
	}
	closePool(t, p)
	if ran.Load() {
		t.Error("job ran with a canceled context")
	}
}

func TestPoolContextEndsWhileRunning(t *testing.T) {
	p, _ := newPool(t, Options{Workers: 1})
	b := newBlocker()
	ctx, cancel := context.WithCancel(context.Background())
	var finished atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- p.Do(ctx, func(ip *fakeInterp) {
			b.job(ip)
			finished.Store(true)
		})
	}()
	b.waitStarted(t, 1)
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Do returned %v while its job was still running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(b.release)
	if err := recv(t, done, "Do"); err != nil {
		t.Errorf("Do = %v, want nil: a started job runs to completion", err)
	}
	if !finished.Load() {
		t.Error("Do returned before its job finished")
	}
}

func TestPoolCloseDrains(t *testing.T) {
	const workers, queue = 2, 4
	fa := &factory{}
	p, err := New(Options{Workers: workers, QueueSize: queue}, fa.new)
	if err != nil {
		t.Fatal(err)
	}
	b := newBlocker()
	var ran atomic.Int32
	errs := make(chan error, workers+queue)
	job := func(ip *fakeInterp) {
		ip.jobTIDs = append(ip.jobTIDs, gettid())
		ran.Add(1)
	}
	for range workers {
		go func() {
			errs <- p.Do(context.Background(), func(ip *fakeInterp) { b.job(ip); job(ip) })
		}()
	}
	b.waitStarted(t, workers)
	for range queue {
		go func() { errs <- p.Do(context.Background(), job) }()
	}
	eventually(t, "the queue is full", func() bool { return p.Stats().Queued == queue })

	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	// The queue is full, so Do fails with ErrQueueFull until Close begins.
	eventually(t, "Do returns ErrClosed", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		return errors.Is(p.Do(ctx, job), ErrClosed)
	})

	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Close(expired); !errors.Is(err, context.Canceled) {
		t.Errorf("Close with an expired context while jobs run = %v, want context.Canceled", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while jobs were still running", err)
	default:
	}

	close(b.release)
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the jobs finished")
	}
	for range workers + queue {
		if err := recv(t, errs, "Do accepted before Close"); err != nil {
			t.Errorf("Do accepted before Close: %v", err)
		}
	}
	if got := ran.Load(); got != workers+queue {
		t.Errorf("%d jobs ran, want %d (in-flight and queued)", got, workers+queue)
	}
	if err := p.Do(context.Background(), job); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	for _, ip := range fa.all() {
		if n := ip.closes.Load(); n != 1 {
			t.Errorf("worker %d: Close called %d times, want 1", ip.worker, n)
		}
		if gettid() != 0 && ip.closeTID != ip.createTID {
			t.Errorf("worker %d: closed on thread %d, created on %d", ip.worker, ip.closeTID, ip.createTID)
		}
		for _, tid := range ip.jobTIDs {
			if tid != ip.createTID {
				t.Errorf("worker %d: drained job ran on thread %d, created on %d", ip.worker, tid, ip.createTID)
			}
		}
	}
}

// TestPoolCloseWhileBusy races Close against a stream of Do calls: every
// call must end with a result, and exactly the accepted jobs must run.
func TestPoolCloseWhileBusy(t *testing.T) {
	for _, sm := range spinModes {
		t.Run(sm.name, func(t *testing.T) {
			withSpin(t, sm.worker, sm.caller)
			p, _ := newPool(t, Options{Workers: 3, QueueSize: 4})
			var accepted, ran atomic.Int64
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for {
						err := p.Do(context.Background(), func(*fakeInterp) {
							ran.Add(1)
							time.Sleep(10 * time.Microsecond)
						})
						switch {
						case err == nil:
							accepted.Add(1)
						case errors.Is(err, ErrClosed):
							return
						case !errors.Is(err, ErrQueueFull):
							t.Errorf("Do: %v", err)
							return
						}
					}
				})
			}
			time.Sleep(20 * time.Millisecond)
			closePool(t, p)
			wg.Wait()
			if a, r := accepted.Load(), ran.Load(); a != r || a == 0 {
				t.Errorf("%d jobs accepted, %d ran; want equal and not zero", a, r)
			}
			if st := p.Stats(); st.Served != uint64(ran.Load()) || st.Workers != 0 || st.Queued != 0 {
				t.Errorf("Stats() = %+v after Close, want Served %d, Workers 0, Queued 0", st, ran.Load())
			}
		})
	}
}

func TestPoolCloseError(t *testing.T) {
	errClose := errors.New("close failed")
	fa := &factory{closeErr: errClose}
	p, err := New(Options{Workers: 2}, fa.new)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Close(context.Background())
	if !errors.Is(err, errClose) {
		t.Errorf("Close = %v, want it to wrap %v", err, errClose)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "interp: worker ") {
		t.Errorf("Close error %q lacks the worker prefix", err)
	}
}

func TestNewFactoryError(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		workers int
		fail    func(worker int) error
		want    func(error) bool
	}{
		{"first worker fails", 4, failOn(0, errBoom), isErr(errBoom)},
		{"last worker fails", 4, failOn(3, errBoom), isErr(errBoom)},
		{"only worker fails", 1, failOn(0, errBoom), isErr(errBoom)},
		{"factory panics", 3, func(w int) error {
			if w == 1 {
				panic("factory exploded")
			}
			return nil
		}, isPanic("factory exploded")},
		{"factory calls Goexit", 3, func(w int) error {
			if w == 2 {
				runtime.Goexit()
			}
			return nil
		}, isErr(errFactoryExited)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa := &factory{fail: tt.fail}
			p, err := New(Options{Workers: tt.workers}, fa.new)
			if p != nil {
				t.Error("New returned a pool with an error")
			}
			if err == nil || !tt.want(err) {
				t.Fatalf("New error = %v, not the factory's failure", err)
			}
			if !strings.HasPrefix(err.Error(), "interp: worker ") {
				t.Errorf("New error %q lacks the worker prefix", err)
			}
			interps := fa.all()
			if len(interps) != tt.workers-1 {
				t.Errorf("%d interpreters created, want %d", len(interps), tt.workers-1)
			}
			for _, ip := range interps {
				if n := ip.closes.Load(); n != 1 {
					t.Errorf("worker %d: Close called %d times, want 1", ip.worker, n)
				}
				if ip.closeTID != ip.createTID {
					t.Errorf("worker %d: closed on thread %d, created on %d", ip.worker, ip.closeTID, ip.createTID)
				}
			}
		})
	}
}

func failOn(k int, err error) func(int) error {
	return func(w int) error {
		if w == k {
			return err
		}
		return nil
	}
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func isPanic(value any) func(error) bool {
	return func(err error) bool {
		var pe *PanicError
		return errors.As(err, &pe) && pe.Value == value
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPoolPanic(t *testing.T) {
	errValue := errors.New("panic value")
	tests := []struct {
		name  string
		value any
		check func(t *testing.T, err error)
	}{
		{"string", "boom", func(t *testing.T, err error) {
			var pe *PanicError
			if !errors.As(err, &pe) || pe.Value != "boom" {
				t.Errorf("Do = %v, want a *PanicError with value boom", err)
			}
			if pe != nil && !strings.Contains(string(pe.Stack), "TestPoolPanic") {
				t.Errorf("panic stack does not show the job:\n%s", pe.Stack)
			}
		}},
		{"error", errValue, func(t *testing.T, err error) {
			if !errors.Is(err, errValue) {
				t.Errorf("Do = %v, want it to wrap the panic's error", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			lg := slog.New(slog.NewTextHandler(&logs, nil))
			p, fa := newPool(t, Options{Workers: 1, Logger: lg})
			err := p.Do(context.Background(), func(*fakeInterp) { panic(tt.value) })
			tt.check(t, err)
			if err != nil && !strings.HasPrefix(err.Error(), "interp: ") {
				t.Errorf("error %q lacks the interp: prefix", err)
			}
			if !strings.Contains(logs.String(), "job panicked") {
				t.Errorf("panic not logged; log:\n%s", logs.String())
			}
			var tid int
			if err := p.Do(context.Background(), func(ip *fakeInterp) { tid = gettid() }); err != nil {
				t.Errorf("Do after a panic: %v", err)
			}
			interps := fa.all()
			if len(interps) != 1 {
				t.Fatalf("%d interpreters created, want 1 (the worker survives a panic)", len(interps))
			}
			if tid != interps[0].createTID {
				t.Errorf("next job ran on thread %d, want the worker's %d", tid, interps[0].createTID)
			}
			if st := p.Stats(); st.Panics != 1 || st.Served != 2 || st.Workers != 1 {
				t.Errorf("Stats() = %+v, want Panics 1, Served 2, Workers 1", st)
			}
		})
	}
}

func TestPoolJobGoexit(t *testing.T) {
	p, fa := newPool(t, Options{Workers: 1})
	done := make(chan error, 1)
	go func() { done <- p.Do(context.Background(), func(*fakeInterp) { runtime.Goexit() }) }()
	if err := recv(t, done, "Do of a job calling Goexit"); !errors.Is(err, ErrJobExited) {
		t.Errorf("Do = %v, want ErrJobExited", err)
	}
	var ip2 *fakeInterp
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Do(ctx, func(ip *fakeInterp) { ip2 = ip }); err != nil {
		t.Fatalf("Do after Goexit: %v", err)
	}
	interps := fa.all()
	if len(interps) != 2 || ip2 != interps[1] {
		t.Fatalf("want the next job on a replacement interpreter; have %d interpreters", len(interps))
	}
	old := interps[0]
	if n := old.closes.Load(); n != 1 {
		t.Errorf("exited worker's interpreter closed %d times, want 1", n)
	}
	if old.closeTID != old.createTID {
		t.Errorf("exited worker's interpreter closed on thread %d, created on %d", old.closeTID, old.createTID)
	}
	if gettid() != 0 && ip2.createTID == old.createTID {
		t.Errorf("replacement reused thread %d", old.createTID)
	}
	if ip2.worker != 0 {
		t.Errorf("replacement has worker number %d, want 0", ip2.worker)
	}
	if st := p.Stats(); st.Workers != 1 || st.Panics != 1 {
		t.Errorf("Stats() = %+v, want Workers 1, Panics 1", st)
	}
}

func TestPoolQueueTimeout(t *testing.T) {
	tests := []struct {
		name string
		// releaseAfter is when the blocking job ends.
		releaseAfter time.Duration
		timeout      time.Duration
		wantRun      bool
	}{
		{"times out", 2 * time.Second, 30 * time.Millisecond, false},
		{"worker frees in time", 10 * time.Millisecond, 2 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newPool(t, Options{Workers: 1, QueueTimeout: tt.timeout})
			b := newBlocker()
			blocked := make(chan error, 1)
			go func() { blocked <- p.Do(context.Background(), b.job) }()
			b.waitStarted(t, 1)
			timer := time.AfterFunc(tt.releaseAfter, func() { close(b.release) })
			defer timer.Stop()

			var ran atomic.Bool
			start := time.Now()
			err := p.Do(context.Background(), func(*fakeInterp) { ran.Store(true) })
			elapsed := time.Since(start)
			if tt.wantRun {
				if err != nil {
					t.Errorf("Do = %v, want nil", err)
				}
			} else {
				if !errors.Is(err, ErrQueueTimeout) || !errors.Is(err, ErrQueueFull) {
					t.Errorf("Do = %v, want ErrQueueTimeout matching ErrQueueFull", err)
				}
				if elapsed < tt.timeout || elapsed > tt.releaseAfter {
					t.Errorf("Do returned after %v, want between %v and %v", elapsed, tt.timeout, tt.releaseAfter)
				}
				if st := p.Stats(); st.Rejected != 1 {
					t.Errorf("Stats().Rejected = %d, want 1", st.Rejected)
				}
			}
			if timer.Stop() {
				close(b.release)
			}
			if err := recv(t, blocked, "blocking Do"); err != nil {
				t.Errorf("blocking Do: %v", err)
			}
			closePool(t, p)
			if ran.Load() != tt.wantRun {
				t.Errorf("job ran = %v, want %v", ran.Load(), tt.wantRun)
			}
		})
	}
}

// TestPoolTimerReuse runs many jobs under a queue timeout so that pooled
// jobs reuse their timers, and checks that no stale expiry rejects a job.
func TestPoolTimerReuse(t *testing.T) {
	withSpin(t, 0, 0) // Force every Do through the timer path.
	p, _ := newPool(t, Options{Workers: 2, QueueSize: 64, QueueTimeout: time.Second})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if err := p.Do(context.Background(), func(*fakeInterp) {}); err != nil {
					t.Errorf("Do: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewDefaults(t *testing.T) {
	p, _ := newPool(t, Options{})
	want := max(runtime.NumCPU(), 2)
	if got := p.Stats().Workers; got != want {
		t.Errorf("default workers = %d, want %d", got, want)
	}
	if got := p.queueSize; got != 4*want {
		t.Errorf("default queue size = %d, want %d", got, 4*want)
	}
}

func TestErrorMessages(t *testing.T) {
	for _, err := range []error{ErrQueueFull, ErrClosed, ErrQueueTimeout, ErrJobExited, &PanicError{Value: 1}} {
		msg := err.Error()
		rest, ok := strings.CutPrefix(msg, "interp: ")
		if !ok || rest == "" || strings.ToLower(rest[:1]) != rest[:1] {
			t.Errorf("error message %q: want the interp: prefix and a lowercase start", msg)
		}
	}
	if errors.Is(ErrQueueFull, ErrQueueTimeout) {
		t.Error("ErrQueueFull matches ErrQueueTimeout; only the reverse should hold")
	}
}

// TestMaxRequests: a worker is replaced by a fresh one (new thread, new
// interpreter) after MaxRequests jobs, and the old interpreter is closed on
// its own thread.
func TestMaxRequests(t *testing.T) {
	p, fa := newPool(t, Options{Workers: 1, MaxRequests: 2})
	var used []*fakeInterp
	for range 5 {
		err := p.Do(context.Background(), func(ip *fakeInterp) {
			ip.jobs++
			ip.jobTIDs = append(ip.jobTIDs, gettid())
			used = append(used, ip)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if used[0] != used[1] || used[1] == used[2] || used[2] != used[3] || used[3] == used[4] {
		t.Errorf("interpreters per job: %p %p %p %p %p; want a new one after every 2 jobs", used[0], used[1], used[2], used[3], used[4])
	}
	all := fa.all()
	if len(all) != 3 {
		t.Fatalf("%d interpreters created, want 3", len(all))
	}
	for i, f := range all[:2] {
		if f.closes.Load() != 1 || f.jobs != 2 {
			t.Errorf("interpreter %d: %d closes, %d jobs; want 1 close after 2 jobs", i, f.closes.Load(), f.jobs)
		}
		if f.closeTID != f.createTID || (gettid() != 0 && f.jobTIDs[0] != f.createTID) {
			t.Errorf("interpreter %d: created on %d, jobs on %v, closed on %d: want one thread", i, f.createTID, f.jobTIDs, f.closeTID)
		}
	}
	if all[2].createTID != 0 && all[2].createTID == all[0].createTID {
		t.Errorf("the replacement runs on the retired worker's thread %d", all[0].createTID)
	}
	if st := p.Stats(); st.Replaced != 2 || st.Served != 5 || st.Workers != 1 {
		t.Errorf("Stats() = %+v, want Replaced 2, Served 5, Workers 1", st)
	}
	want := WorkerStats{ID: 0, Live: true, Served: 5, Replaced: 2}
	if ws := p.Workers(nil); len(ws) != 1 || ws[0] != want {
		t.Errorf("Workers() = %+v, want [%+v]", ws, want)
	}
}

// TestPoolWorkers: Workers reports each worker's number, and which one is
// busy and how many jobs each ran.
func TestPoolWorkers(t *testing.T) {
	p, _ := newPool(t, Options{Workers: 2})
	for range 3 {
		if err := p.Do(context.Background(), func(*fakeInterp) {}); err != nil {
			t.Fatal(err)
		}
	}
	b := newBlocker()
	done := make(chan error, 1)
	go func() { done <- p.Do(context.Background(), b.job) }()
	b.waitStarted(t, 1)
	ws := p.Workers(nil)
	if len(ws) != 2 {
		t.Fatalf("Workers() = %+v, want 2 entries", ws)
	}
	busy, served := 0, uint64(0)
	for i, w := range ws {
		if w.ID != i || !w.Live || w.Replaced != 0 {
			t.Errorf("worker %d: %+v, want ID %d, live, never replaced", i, w, i)
		}
		if w.Busy {
			busy++
		}
		served += w.Served
	}
	if busy != 1 || served != 3 {
		t.Errorf("Workers() = %+v: %d busy, %d served; want 1 busy, 3 served", ws, busy, served)
	}
	close(b.release)
	if err := recv(t, done, "the blocking job"); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Busy != 0 || st.Served != 4 {
		t.Errorf("Stats() after the job = %+v, want Busy 0, Served 4", st)
	}
}

// TestMaxRequestsCountsPanics: a panicking job counts towards MaxRequests,
// returns a *PanicError and leaves the pool serving.
func TestMaxRequestsCountsPanics(t *testing.T) {
	p, fa := newPool(t, Options{Workers: 1, MaxRequests: 2})
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
	p, fa := newPool(t, Options{Workers: 2, QueueSize: 100})
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
}
