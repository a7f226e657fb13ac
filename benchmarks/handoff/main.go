// Command handoff measures, side by side, three ways to get a short HTTP
// request onto an embedded interpreter and back (issue 17, item 1):
//
//   - today: net/http; the connection's goroutine hands the request to an
//     interp.Pool worker locked to the interpreter's thread, as
//     internal/backend's embedded mode does (same pool options).
//   - caller: net/http; the connection's goroutine runs the request itself
//     on its own OS thread (LockOSThread for the request), so no other
//     thread has to wake. The prototype gives each OS thread an
//     interpreter of its own, made on first use (a thread state attached
//     to a worker's interpreter costs the same PyEval_RestoreThread that
//     every Exec already pays); a semaphore admits Workers requests at once.
//   - static, loopstatic: net/http and the loop answering hello's bytes
//     without Python, the floor of each.
//   - loop: github.com/panjf2000/gnet/v2, one event loop per worker, each
//     locked to its OS thread, parsing with net/http's http.ReadRequest,
//     executing on the loop's thread (an interpreter made there on first
//     use) and writing the reply from it.
//
// Every design does the same per-request work: a CGI environment block,
// pyhost's Exec of the script, the script's headers copied into the reply.
// It starts the chosen server, drives it with wrk (-t2) for a warm-up and a
// measured run, and prints one CSV row: requests per second, the server
// process's CPU per request (getrusage: wrk is a child, not counted) and
// Go heap allocations per request (runtime.MemStats).
//
// It is its own module so that warmcgi's go.mod never depends on gnet;
// run.sh beside it runs the designs and the real server in rounds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/warmcgi/warmcgi/pyhost"
)

// interpFor holds the interpreters of the caller and loop designs, one per
// OS thread, made on first use on that thread.
var (
	perThreadMu sync.Mutex
	perThread   = map[int]*cgiInterp{}
)

// cgiInterp is an interpreter with the buffers one request reuses.
type cgiInterp struct {
	ip  *pyhost.Interp
	env []byte
	res pyhost.Result
	out []byte // the reply's head and body, built by run
}

func newCGIInterp() (*cgiInterp, error) {
	ip, err := pyhost.NewInterp(pyhost.InterpOptions{OwnGIL: pyhost.OwnGILSupported()})
	if err != nil {
		return nil, err
	}
	return &cgiInterp{ip: ip}, nil
}

// threadInterp returns the calling thread's interpreter; the caller is
// locked to its thread.
func threadInterp() *cgiInterp {
	tid := syscall.Gettid()
	perThreadMu.Lock()
	defer perThreadMu.Unlock()
	ci := perThread[tid]
	if ci == nil {
		var err error
		if ci, err = newCGIInterp(); err != nil {
			fmt.Fprintln(os.Stderr, "handoff:", err)
			os.Exit(1)
		}
		perThread[tid] = ci
	}
	return ci
}

// designs maps -design to its server; attach.go adds "attach".
var designs = map[string]func(addr string, workers int) error{
	"today": serveToday, "caller": serveCaller, "loop": serveLoop, "static": serveStatic,
	"loopstatic": serveLoopStatic,
}

var (
	scriptPath  string
	scriptStamp [4]int64
)

// run executes the script for one GET request and leaves a whole HTTP/1.1
// reply in ci.out: what every design does per request.
func (ci *cgiInterp) run(method, query string, keepAlive bool) error {
	ci.env = ci.env[:0]
	for _, kv := range [...]string{"REQUEST_METHOD=", method, "\x00QUERY_STRING=", query,
		"\x00SERVER_NAME=127.0.0.1\x00SERVER_PORT=8080\x00HTTP_HOST=127.0.0.1:8080\x00",
		"PATH=/usr/bin:/bin\x00SCRIPT_NAME=/cgi-bin/hello.py\x00REMOTE_ADDR=127.0.0.1\x00",
		"GATEWAY_INTERFACE=CGI/1.1\x00SERVER_PROTOCOL=HTTP/1.1\x00"} {
		ci.env = append(ci.env, kv...)
	}
	if err := ci.ip.Exec(&pyhost.Request{Path: scriptPath, Stamp: scriptStamp, Env: ci.env}, &ci.res); err != nil {
		return err
	}
	head, body, ok := bytes.Cut(ci.res.Stdout, []byte("\n\n"))
	if !ok {
		return fmt.Errorf("script output has no header end: %q", ci.res.Stdout)
	}
	ci.out = append(ci.out[:0], "HTTP/1.1 200 OK\r\n"...)
	for line := range bytes.SplitSeq(head, []byte("\n")) {
		ci.out = append(append(ci.out, line...), "\r\n"...)
	}
	if !keepAlive {
		ci.out = append(ci.out, "Connection: close\r\n"...)
	}
	ci.out = append(ci.out, "Content-Length: "...)
	ci.out = strconv.AppendInt(ci.out, int64(len(body)), 10)
	ci.out = append(append(ci.out, "\r\n\r\n"...), body...)
	return nil
}

var wrkResult = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
var wrkTotal = regexp.MustCompile(`(?m)^\s*([0-9]+) requests in`)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// drive runs wrk against url and returns requests, req/s and the server's
// CPU and Go allocations during the measured run.
func drive(url string, conns int, warm, dur time.Duration) (int, float64, time.Duration, uint64, uint64, error) {
	wrk := func(d time.Duration) (string, error) {
		out, err := exec.Command("wrk", "-t2", "-c"+strconv.Itoa(conns), "-d"+d.String(), url).CombinedOutput()
		return string(out), err
	}
	if _, err := wrk(warm); err != nil {
		return 0, 0, 0, 0, 0, err
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0 := cpuNow()
	out, err := wrk(dur)
	c1 := cpuNow()
	runtime.ReadMemStats(&m1)
	if err != nil {
		return 0, 0, 0, 0, 0, fmt.Errorf("wrk: %v: %s", err, out)
	}
	rps := wrkResult.FindStringSubmatch(out)
	tot := wrkTotal.FindStringSubmatch(out)
	if rps == nil || tot == nil {
		return 0, 0, 0, 0, 0, fmt.Errorf("wrk gave no result: %s", out)
	}
	if bytes.Contains([]byte(out), []byte("Non-2xx")) || bytes.Contains([]byte(out), []byte("Socket errors")) {
		return 0, 0, 0, 0, 0, fmt.Errorf("wrk saw errors: %s", out)
	}
	n, _ := strconv.Atoi(tot[1])
	r, _ := strconv.ParseFloat(rps[1], 64)
	return n, r, c1 - c0, m1.Mallocs - m0.Mallocs, m1.TotalAlloc - m0.TotalAlloc, nil
}

func main() {
	design := flag.String("design", "today", "today, caller or loop")
	workers := flag.Int("w", 2, "workers (interpreters; event loops)")
	script := flag.String("script", "../../testdata/cgi-bin/hello.py", "the CGI script")
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: a free one)")
	conns := flag.Int("c", 8, "wrk connections")
	dur := flag.Duration("d", 5*time.Second, "measured wrk run")
	warm := flag.Duration("warmup", time.Second, "wrk warm-up run")
	flag.Parse()

	var err error
	if scriptPath, scriptStamp, err = stampFile(*script); err != nil {
		fail(err)
	}
	if err := pyhost.Init(pyhost.Config{}); err != nil {
		fail(err)
	}
	if *port == 0 {
		*port = freePort()
	}
	addr := "127.0.0.1:" + strconv.Itoa(*port)
	if serve := designs[*design]; serve != nil {
		err = serve(addr, *workers)
	} else {
		err = fmt.Errorf("unknown design %q", *design)
	}
	if err != nil {
		fail(err)
	}
	waitReady(addr)
	n, rps, cpu, mallocs, bytes, err := drive("http://"+addr+"/cgi-bin/hello.py", *conns, *warm, *dur)
	if err != nil {
		fail(err)
	}
	perThreadMu.Lock()
	fmt.Fprintf(os.Stderr, "handoff: %d per-thread interpreters\n", len(perThread))
	perThreadMu.Unlock()
	fmt.Printf("%s,%d,%d,%d,%.0f,%.1f,%.1f,%.0f\n", *design, *workers, *conns, n, rps,
		float64(cpu.Microseconds())/float64(n), float64(mallocs)/float64(n), float64(bytes)/float64(n))
	os.Exit(0)
}

func stampFile(p string) (string, [4]int64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return "", [4]int64{}, err
	}
	abs := p
	if p[0] != '/' {
		wd, _ := os.Getwd()
		abs = wd + "/" + p
	}
	return abs, [4]int64{st.Mtim.Nano(), st.Size, int64(st.Ino), int64(st.Dev)}, nil
}

func waitReady(addr string) {
	for range 500 {
		if c, err := (&netDialer).DialContext(context.Background(), "tcp", addr); err == nil {
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			_, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	fail(fmt.Errorf("server on %s never answered", addr))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "handoff:", err)
	os.Exit(1)
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() int {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
