package backend

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

// fakeSub is a sub-interpreter backend whose script needs another mode
// (needs), after streaming a chunk when stream is set.
type fakeSub struct {
	needs  string
	stream bool
	cpu    time.Duration // each measured run's CPU time
	// compiles: the first runs that compile the script (a fresh worker's),
	// whose CPU time is not the script's own
	compiles int
	runs     int
	// measured: whether each run was measured
	measured []bool
}

func (f *fakeSub) runResult(_ context.Context, req *cgienv.Request, _ shebangFlags, measure bool) (*cgienv.Output, runInfo, error) {
	if !measure {
		return f.run(req, 0)
	}
	return f.run(req, f.cpu)
}

func (f *fakeSub) run(req *cgienv.Request, cpu time.Duration) (*cgienv.Output, runInfo, error) {
	f.runs++
	if f.stream && req.Stream != nil {
		req.Stream([]byte("Content-Type: text/plain\n\npart"))
	}
	f.measured = append(f.measured, cpu != 0)
	info := runInfo{needs: f.needs}
	if cpu != 0 && f.runs > f.compiles {
		info.cpu, info.measured = cpu, true
	}
	return &cgienv.Output{Stdout: []byte("sub")}, info, nil
}

type fakeTarget struct{ runs int }

func (f *fakeTarget) run(context.Context, *cgienv.Request, shebangFlags) (*cgienv.Output, error) {
	f.runs++
	return &cgienv.Output{Stdout: []byte("target")}, nil
}

func TestAutoBackend(t *testing.T) {
	sent := func([]byte) cgienv.StreamAnswer { return cgienv.StreamSent }
	keep := func([]byte) cgienv.StreamAnswer { return cgienv.StreamKeep }
	tests := []struct {
		name       string
		sub        fakeSub
		req        cgienv.Request
		first      string // who answers the first request
		targetRuns int    // after two requests
	}{
		{"stays", fakeSub{}, cgienv.Request{}, "sub", 0},
		{"rerun", fakeSub{needs: "imports x (single-phase init)"}, cgienv.Request{}, "target", 2},
		{"kept output is not sent", fakeSub{needs: "why", stream: true}, cgienv.Request{Stream: keep}, "target", 2},
		{"streamed", fakeSub{needs: "why", stream: true}, cgienv.Request{Stream: sent}, "sub", 1},
		{"body read as it came", fakeSub{needs: "why"}, cgienv.Request{StdinStream: strings.NewReader("body")}, "sub", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			sub, target := tc.sub, &fakeTarget{}
			a := &autoBackend{sub: &sub, logger: slog.New(slog.NewTextHandler(&log, nil))}
			a.targets[autoExtTarget], a.targets[autoExactTarget] = target, target
			for i := range 2 {
				req := tc.req
				req.Script = "/cgi-bin/s.py"
				out, err := a.run(context.Background(), &req, shebangFlags{})
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 && string(out.Stdout) != tc.first {
					t.Errorf("first request answered by %s, want %s", out.Stdout, tc.first)
				}
			}
			if target.runs != tc.targetRuns {
				t.Errorf("target ran %d times, want %d", target.runs, tc.targetRuns)
			}
			d := a.decisions()
			if moved := tc.sub.needs != ""; moved != (len(d) == 1) || strings.Count(log.String(), "moved out of subinterp") != len(d) {
				t.Errorf("decisions %+v, log %q", d, log.String())
			}
			if len(d) == 1 && (d[0].Script != "/cgi-bin/s.py" || d[0].Mode != AutoTargetFor(tc.sub.needs) || d[0].Reason != tc.sub.needs) {
				t.Errorf("decision %+v", d[0])
			}
			if sub.runs != 1 && tc.sub.needs != "" {
				t.Errorf("the sub-interpreter ran %d times, want once", sub.runs)
			}
		})
	}
}

func TestAutoTargetFor(t *testing.T) {
	for reason, want := range map[string]string{
		"imports swiglike (single-phase init)":                                             "process",
		"imports numpy (it does not support sub-interpreters)":                             "process",
		"calls signal.setitimer (it cannot interrupt a blocking call in a shared process)": "fork",
		"sets a SIGALRM handler (a shared process only emulates SIGALRM)":                  "fork",
		"calls time.tzset with TZ=Asia/Tokyo (the server's time zone is the process's)":    "fork",
		"calls os.fork (refused in a shared process)":                                      "fork",
		"starts a process (sh)": "process",
		"imports _ctypes (it calls C directly: a wrong pointer would crash the server)": "process",
	} {
		if got := AutoTargetFor(reason); got != want {
			t.Errorf("AutoTargetFor(%q) = %s, want %s", reason, got, want)
		}
	}
}

// TestAutoCPURoute: on a shared GIL a script moves to process mode once the
// running average of its requests' CPU time reaches cpuRouteAt, judged from
// the cpuRouteAfter-th measured one (not the first request, nor any run
// that compiled it); a light one, or any script when the GIL is not shared
// (cpuRoute off), stays.
func TestAutoCPURoute(t *testing.T) {
	tests := []struct {
		name     string
		cpuRoute bool
		cpu      time.Duration
		compiles int // the first runs compile the script: not counted
		moveAt   int // the request after which the next goes to process mode; 0: never
	}{
		{"heavy", true, 3 * cpuRouteAt, 1, cpuRouteAfter + 1}, // the first is not counted
		// Four fresh workers each compile it once (the first request is not
		// measured anyway).
		{"heavy, compiled on four workers", true, 3 * cpuRouteAt, 4, cpuRouteAfter + 4},
		{"light", true, cpuRouteAt / 4, 1, 0},
		{"own GIL", false, 10 * cpuRouteAt, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			sub, target := &fakeSub{cpu: tc.cpu, compiles: tc.compiles}, &fakeTarget{}
			a := &autoBackend{sub: sub, logger: slog.New(slog.NewTextHandler(&log, nil)), cpuRoute: tc.cpuRoute}
			a.targets[autoExtTarget], a.targets[autoExactTarget] = target, &fakeTarget{}
			for i := 1; i <= 9; i++ {
				req := cgienv.Request{Script: "/cgi-bin/s.py"}
				out, err := a.run(context.Background(), &req, shebangFlags{})
				if err != nil {
					t.Fatal(err)
				}
				want := "sub"
				if tc.moveAt > 0 && i > tc.moveAt {
					want = "target"
				}
				if string(out.Stdout) != want {
					t.Fatalf("request %d answered by %s, want %s\n%s", i, out.Stdout, want, log.String())
				}
			}
			if moved := strings.Contains(log.String(), cpuReason); moved != (tc.moveAt > 0) {
				t.Errorf("moved=%v, want %v:\n%s", moved, tc.moveAt > 0, log.String())
			}
		})
	}
}

// TestAutoCPUSample: a script's first request is not measured, the next
// cpuRouteAfter are, and then every cpuSample-th; with cpuRoute off none.
func TestAutoCPUSample(t *testing.T) {
	for _, on := range []bool{true, false} {
		sub := &fakeSub{cpu: cpuRouteAt / 10}
		a := &autoBackend{sub: sub, logger: slog.New(slog.DiscardHandler), cpuRoute: on}
		for range 2 * cpuSample {
			req := cgienv.Request{Script: "/cgi-bin/s.py"}
			if _, err := a.run(context.Background(), &req, shebangFlags{}); err != nil {
				t.Fatal(err)
			}
		}
		for i, m := range sub.measured {
			k := i + 1 // the request's number
			want := on && k > 1 && (k <= 1+cpuRouteAfter || k%cpuSample == 0)
			if m != want {
				t.Errorf("cpuRoute %v: request %d measured %v, want %v", on, k, m, want)
			}
		}
	}
}
