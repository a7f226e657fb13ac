package interp

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// benchInterp is the cheapest possible interpreter: the benchmarks measure
// the hand-off, not the work.
type benchInterp struct{ n int }

func (*benchInterp) Close() error { return nil }

func newBenchPool(b *testing.B, workers int) *Pool[*benchInterp] {
	b.Helper()
	p, err := New(Options{Workers: workers, QueueSize: 256}, func(int) (*benchInterp, error) {
		return &benchInterp{}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return p
}

// benchJob returns a job that busy-works for d on the worker (zero: none),
// standing in for a script's run time.
func benchJob(d time.Duration) func(*benchInterp) {
	if d == 0 {
		return func(ip *benchInterp) { ip.n++ }
	}
	return func(ip *benchInterp) {
		for start := time.Now(); time.Since(start) < d; {
			ip.n++
		}
	}
}

// runClients runs fn b.N times in total from about clients goroutines.
func runClients(b *testing.B, clients int, fn func()) {
	b.Helper()
	b.ReportAllocs()
	if clients == 1 {
		for b.Loop() {
			fn()
		}
		return
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fn()
		}
	})
}

func doOrFail(b *testing.B, p *Pool[*benchInterp], job func(*benchInterp)) func() {
	ctx := context.Background()
	return func() {
		if err := p.Do(ctx, job); err != nil {
			b.Error(err)
		}
	}
}

// BenchmarkHandOff is one caller doing one job at a time: the latency of a
// round trip to a locked worker thread, the case DESIGN.md measured at
// 21–29 µs with a plain channel.
func BenchmarkHandOff(b *testing.B) {
	b.Run("clients=1", func(b *testing.B) {
		p := newBenchPool(b, 1)
		runClients(b, 1, doOrFail(b, p, benchJob(0)))
	})
}

// BenchmarkPool is eight concurrent callers sharing the workers.
func BenchmarkPool(b *testing.B) {
	for _, workers := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			p := newBenchPool(b, workers)
			runClients(b, 8, doOrFail(b, p, benchJob(0)))
		})
	}
}

// BenchmarkSpin compares the spin windows: none, worker polling only,
// caller polling only, and both (the default), with an empty job and with
// a job of a few microseconds (a small script), for one and for eight
// callers on one and two workers.
func BenchmarkSpin(b *testing.B) {
	modes := []struct {
		name           string
		worker, caller time.Duration
	}{
		{"off", 0, 0},
		{"worker", workerSpin, 0},
		{"caller", 0, callerSpin},
		{"both", workerSpin, callerSpin},
	}
	for _, work := range []time.Duration{0, 3 * time.Microsecond} {
		for _, workers := range []int{1, 2} {
			for _, clients := range []int{1, 8} {
				for _, m := range modes {
					name := fmt.Sprintf("job=%v/workers=%d/clients=%d/spin=%s", work, workers, clients, m.name)
					b.Run(name, func(b *testing.B) {
						ow, oc := workerSpin, callerSpin
						workerSpin, callerSpin = m.worker, m.caller
						p := newBenchPool(b, workers)
						workerSpin, callerSpin = ow, oc
						runClients(b, clients, doOrFail(b, p, benchJob(work)))
					})
				}
			}
		}
	}
}

// BenchmarkChanRoundTrip re-measures DESIGN.md's baseline: a plain
// unbuffered request channel and reply channel to one goroutine, locked to
// its thread or not, with nothing else in the way.
func BenchmarkChanRoundTrip(b *testing.B) {
	for _, locked := range []bool{false, true} {
		b.Run(fmt.Sprintf("locked=%v", locked), func(b *testing.B) {
			req, resp := make(chan int), make(chan int)
			go func() {
				if locked {
					runtime.LockOSThread()
				}
				for v := range req {
					resp <- v + 1
				}
			}()
			defer close(req)
			b.ReportAllocs()
			for b.Loop() {
				req <- 1
				<-resp
			}
		})
	}
}

// BenchmarkDesigns compares, with a fake interpreter, the hand-off of
// today (Do: the job runs on the worker's locked thread) with design b of
// issue 17 (the caller takes a free interpreter and runs the job on its own
// goroutine, as pyhost could with a thread state per thread; no thread is
// woken). A job of 13µs stands in for one hello.py exec (BenchmarkExec).
// benchmarks/handoff measures both, and an event loop per interpreter
// thread, with real Python over real HTTP.
func BenchmarkDesigns(b *testing.B) {
	for _, work := range []time.Duration{0, 13 * time.Microsecond} {
		for _, workers := range []int{1, 2} {
			for _, clients := range []int{1, 8} {
				name := fmt.Sprintf("job=%v/workers=%d/clients=%d", work, workers, clients)
				b.Run(name+"/design=handoff", func(b *testing.B) {
					p := newBenchPool(b, workers)
					cpu0 := processCPU()
					runClients(b, clients, doOrFail(b, p, benchJob(work)))
					reportCPU(b, cpu0)
				})
				b.Run(name+"/design=caller", func(b *testing.B) {
					free := make(chan *benchInterp, workers)
					for range workers {
						free <- &benchInterp{}
					}
					job := benchJob(work)
					cpu0 := processCPU()
					runClients(b, clients, func() {
						ip := <-free
						job(ip)
						free <- ip
					})
					reportCPU(b, cpu0)
				})
			}
		}
	}
}

// reportCPU reports the process's CPU time per op since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}
