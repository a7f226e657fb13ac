package procmode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Job is one request for a worker process.
type Job struct {
	Script     string
	Stamp      [4]int64 // see Request
	Unbuffered bool
	Optimize   int
	NoBytecode bool // python3 -B (fork mode: sys.dont_write_bytecode)
	Env, Args  []string
	Stdin      []byte   // the body, fed through a pipe, unless
	StdinFile  *os.File // the spooled body, which the script reads directly
	// Timeout is the request's time limit, counted from when a worker
	// process takes it (0: none); past it the process group is killed and
	// Run returns ErrDeadline.
	Timeout time.Duration
	// Stream, when not nil, takes the script's stdout while it runs (see
	// pumpStdout); what it answers StreamSent to is not in Output.Stdout.
	// It is called from one goroutine at a time, only while Run runs.
	Stream func(chunk []byte) StreamAnswer
}

// Output is what a request in a worker process produced.
type Output struct {
	Stdout, Stderr []byte // Stdout: what Job.Stream did not take
	// Streamed: part of stdout went to Job.Stream (the response began).
	Streamed bool
	ExitCode int
	Failure  string
	// Signal is the signal that killed the worker process during the
	// request (0: none).
	Signal syscall.Signal
}

// errSlotClosed is Run's error after Close.
var errSlotClosed = errors.New("worker process slot closed")

// ErrDeadline is Run's error for a request killed at its Timeout.
var ErrDeadline = errors.New("worker process killed at the request's deadline")

// AppendBlock appends "s\x00" for each s: the form of the environment and
// argv blocks (the worker's and pyhost's).
func AppendBlock(b []byte, ss []string) []byte {
	for _, s := range ss {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

// Run runs one request in the slot's worker process, starting one if the
// last has gone. A request runs at a time: Run holds the slot's lock. The
// request runs on the calling thread (exchange.go).
func (w *Slot) Run(ctx context.Context, job *Job) (*Output, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errSlotClosed
	}
	c, err := w.child(ctx)
	if err != nil {
		return nil, err
	}
	var deadline time.Time
	if job.Timeout > 0 {
		deadline = time.Now().Add(job.Timeout)
	}
	x, err := w.send(c, job)
	if err != nil {
		return nil, err
	}
	if len(w.scratch) == 0 {
		w.scratch = make([]byte, 64<<10)
	}
	w.seq++
	rep, died, err := x.wait(c, job, w.poll, w.seq, deadline, w.scratch)
	if err != nil {
		c.kill()
		w.drop()
		x.close()
		logStderr(w.pc.logger, job.Script, x.stderr)
		if err == errTimedOut {
			return nil, ErrDeadline
		}
		return nil, fmt.Errorf("worker process: %w", err)
	}
	out := &Output{Stdout: x.stdout, Stderr: x.stderr, Streamed: x.streamed, ExitCode: rep.ExitCode, Failure: rep.Failure}
	if died {
		w.died(c, job.Script, out)
		return out, nil
	}
	w.served(c, rep)
	return out, nil
}

// send gives the worker process the request: its frame and, in the same
// message, the descriptors the script will have as fds 0-2. It returns
// the server's side of the request's descriptors.
func (w *Slot) send(c *Child, job *Job) (*exchange, error) {
	x, script, err := newExchange(job, w.eof)
	if err != nil {
		return nil, err
	}
	w.env = AppendBlock(w.env[:0], job.Env)
	w.args = AppendBlock(w.args[:0], job.Args)
	w.frame = append(w.frame[:0], make([]byte, headerLen)...)
	w.frame = encodeRequest(w.frame, &Request{Path: job.Script, Stamp: job.Stamp,
		Unbuffered: job.Unbuffered, Optimize: job.Optimize, Env: w.env, Args: w.args})
	hdr := frameHeader(msgRequest, len(w.frame)-headerLen)
	copy(w.frame, hdr[:])
	var n int
	n, _, err = c.conn.WriteMsgUnix(w.frame, syscall.UnixRights(script[:]...), nil)
	if err == nil && n < len(w.frame) {
		_, err = c.conn.Write(w.frame[n:])
	}
	// The worker has its copies now; the script's ends of the pipes must
	// be closed here, or the server would never see EOF.
	closeScript(script, w.eof)
	if err != nil {
		x.close()
		c.kill()
		w.drop()
		return nil, fmt.Errorf("worker process: sending request: %w", err)
	}
	return x, nil
}

// died sets out from how the worker process ended during the request, and
// has it replaced.
func (w *Slot) died(c *Child, script string, out *Output) {
	w.drop()
	c.conn.Close()
	st := c.state
	ws, _ := st.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		sig := ws.Signal()
		out.Signal = sig
		out.ExitCode = 128 + int(sig)
		out.Failure = "worker process killed by " + signalName(sig)
		w.pc.logger.Error("worker process died", "script", script, "signal", signalName(sig), "pid", c.cmd.Process.Pid)
		return
	}
	// os._exit(n), or a program the script exec'd, exited: what it wrote
	// is the response, as under mod_cgi.
	out.ExitCode = st.ExitCode()
	if out.ExitCode != 0 {
		out.Failure = "exit status " + strconv.Itoa(out.ExitCode)
	}
}

// served counts a request the worker process answered, and retires the
// process when it asked to, reached --max-requests or outgrew --max-memory.
func (w *Slot) served(c *Child, rep reply) {
	w.backoff = 0
	c.served++
	switch {
	case rep.Retire:
		w.drop()
		c.retire(retireGrace)
	case w.pc.maxRequests > 0 && c.served >= w.pc.maxRequests:
		w.pc.logger.Info("worker process recycled after its request limit", "pid", c.cmd.Process.Pid, "requests", c.served)
		w.drop()
		c.retire(retireGrace)
	case w.pc.maxMemory > 0:
		if rss := residentBytes(c.cmd.Process.Pid); rss > w.pc.maxMemory {
			w.pc.logger.Info("worker process recycled: resident memory above --max-memory",
				"pid", c.cmd.Process.Pid, "rss", rss, "max_memory", w.pc.maxMemory)
			w.drop()
			c.retire(retireGrace)
		}
	}
}

// stdinFor returns the descriptor the script reads as fd 0 and, when the
// body must be fed through a pipe, the function that feeds it.
func stdinFor(job *Job) (*os.File, func(), error) {
	if job.StdinFile != nil {
		// The spooled body itself: the script reads it directly. A
		// duplicate, so closing ours leaves the handler's open.
		fd, err := syscall.Dup(int(job.StdinFile.Fd()))
		if err != nil {
			return nil, nil, err
		}
		syscall.CloseOnExec(fd)
		return os.NewFile(uintptr(fd), "stdin"), nil, nil
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, err
	}
	r := os.NewFile(uintptr(p[0]), "stdin")
	wr := pollable(p[1], "stdin")
	if len(job.Stdin) == 0 {
		wr.Close()
		return r, nil, nil
	}
	body := job.Stdin
	// A script that never reads its body leaves the pipe full; the write
	// then fails when the script's end is closed, which is fine.
	return r, func() { wr.Write(body); wr.Close() }, nil
}

func closeStdin(f *os.File, feed func()) {
	f.Close()
	if feed != nil {
		go feed()
	}
}

// pollable wraps the server's end of a pipe in a non-blocking *os.File,
// so reading it parks a goroutine, not a thread.
func pollable(fd int, name string) *os.File {
	syscall.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), name)
}

// residentBytes reads a process's resident set size from /proc; 0 when
// it cannot.
func residentBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

func signalName(sig syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGABRT: "SIGABRT", syscall.SIGKILL: "SIGKILL",
		syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGILL: "SIGILL",
		syscall.SIGTERM: "SIGTERM", syscall.SIGALRM: "SIGALRM", syscall.SIGINT: "SIGINT",
		syscall.SIGHUP: "SIGHUP", syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2",
		syscall.SIGPIPE: "SIGPIPE", syscall.SIGQUIT: "SIGQUIT", syscall.SIGXCPU: "SIGXCPU",
	}
	if n, ok := names[sig]; ok {
		return n
	}
	return "signal " + strconv.Itoa(int(sig))
}
