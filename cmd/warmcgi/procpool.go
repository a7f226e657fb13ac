package main

// The server side of --isolation process. Each pool worker manages one
// worker process (`warmcgi worker`, worker.go) and runs one request at a
// time in it:
//
//   - the server makes the request's pipes (stdin fed from the body or the
//     spooled body file itself, stdout, stderr), sends a request frame and
//     the three descriptors (SCM_RIGHTS) over the worker's socket, and
//     reads both output pipes to EOF, exactly as mod_cgi reads a CGI
//     process;
//   - the worker puts the descriptors on fds 0-2, runs the script, points
//     fds 0-2 back at /dev/null and answers with the exit status.
//
// A worker that dies (a segfault, os._exit, os.abort, os.exec*, the OOM
// killer) ends only its request and is replaced; one that runs past
// --timeout is killed with its whole process group (the script's
// children too) and the client gets 504.
//
// Wire format, both directions: one type byte, a little-endian uint32
// payload length, the payload.
//
//	server -> worker  'Q' request: flags u8 (bit 0: python -u), optimize u8,
//	                      stamp 4 x i64, then path, env block, argv block,
//	                      each a u32 length and bytes; fds: stdin, stdout, stderr
//	worker -> server  'R' ready (empty), after Python started
//	                  'F' failure: text; the worker exits
//	                  'D' done: exit code i32, retire u8, failure text

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/interp"
	"github.com/warmcgi/warmcgi/pyhost"
)

const (
	msgRequest = 'Q'
	msgReady   = 'R'
	msgFail    = 'F'
	msgDone    = 'D'
)

// maxFrame bounds a frame's payload (a request's environment is at most
// the HTTP header limit; this is far above it).
const maxFrame = 64 << 20

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	b := make([]byte, 5, 5+len(payload))
	b[0] = typ
	binary.LittleEndian.PutUint32(b[1:], uint32(len(payload)))
	_, err := w.Write(append(b, payload...))
	return err
}

// readRequestFrame reads one request frame from the worker's socket and the
// descriptors that came with it.
func readRequestFrame(sock *os.File, buf []byte) ([]byte, []int, error) {
	fd := int(sock.Fd())
	var hdr [5]byte
	oob := make([]byte, syscall.CmsgSpace(3*4))
	n, oobn, _, _, err := syscall.Recvmsg(fd, hdr[:], oob, syscall.MSG_CMSG_CLOEXEC)
	if err != nil {
		return buf, nil, err
	}
	if n == 0 {
		return buf, nil, io.EOF
	}
	var fds []int
	if oobn > 0 {
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err == nil {
			for _, m := range msgs {
				if r, err := syscall.ParseUnixRights(&m); err == nil {
					fds = append(fds, r...)
				}
			}
		}
	}
	if n < len(hdr) {
		if _, err := io.ReadFull(sock, hdr[n:]); err != nil {
			closeFDs(fds)
			return buf, nil, err
		}
	}
	size := binary.LittleEndian.Uint32(hdr[1:])
	if hdr[0] != msgRequest || size > maxFrame {
		closeFDs(fds)
		return buf, nil, fmt.Errorf("bad frame %q (%d bytes)", hdr[0], size)
	}
	buf = append(buf[:0], make([]byte, size)...)
	if _, err := io.ReadFull(sock, buf); err != nil {
		closeFDs(fds)
		return buf, nil, err
	}
	return buf, fds, nil
}

func encodeProcRequest(b []byte, req *cgienv.Request, fl shebangFlags, env, args []byte) []byte {
	var flags byte
	if fl.unbuffered {
		flags = 1
	}
	b = append(b, flags, byte(fl.optimize))
	for _, v := range []int64{req.Stamp.MtimeNs, req.Stamp.Size, int64(req.Stamp.Ino), int64(req.Stamp.Dev)} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	for _, s := range [][]byte{[]byte(req.Script), env, args} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeProcRequest(b []byte) (*pyhost.Request, error) {
	bad := errors.New("truncated request")
	if len(b) < 2+32 {
		return nil, bad
	}
	req := &pyhost.Request{Unbuffered: b[0]&1 != 0, Optimize: int(b[1])}
	b = b[2:]
	for i := range req.Stamp {
		req.Stamp[i] = int64(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	var parts [3][]byte
	for i := range parts {
		if len(b) < 4 {
			return nil, bad
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(len(b)) < uint64(n) {
			return nil, bad
		}
		parts[i], b = b[:n], b[n:]
	}
	req.Path, req.Env, req.Args = string(parts[0]), parts[1], parts[2]
	return req, nil
}

// procReply is a worker's answer to a request.
type procReply struct {
	ExitCode int
	Retire   bool // the worker is exiting after this request
	Failure  string
}

func (r procReply) encode() []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(int32(r.ExitCode)))
	if r.Retire {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return append(b, r.Failure...)
}

func decodeProcReply(b []byte) (procReply, error) {
	if len(b) < 5 {
		return procReply{}, errors.New("truncated reply")
	}
	return procReply{ExitCode: int(int32(binary.LittleEndian.Uint32(b))), Retire: b[4] != 0, Failure: string(b[5:])}, nil
}

// frame is one message from a worker.
type frame struct {
	typ     byte
	payload []byte
}

// procConfig is what every process worker shares.
type procConfig struct {
	exe         string // this binary
	arg         string // the worker's JSON configuration
	timeout     time.Duration
	maxRequests int
	maxMemory   int64
	logger      *slog.Logger
	startWait   time.Duration // how long a worker may take to start Python
}

func newProcConfig(c *serveConfig, maxMemory int64, logger *slog.Logger) (*procConfig, error) {
	// /proc/self/exe reaches this binary even where the --user account
	// could not (a directory only root may search), and stays this
	// binary if the file is replaced while the server runs.
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("--isolation process: cannot find this binary to start workers: %w", err)
		}
	}
	arg, err := json.Marshal(workerConfig{
		PycacheDir: c.pycacheDir,
		Modules:    c.modules,
		Globals:    c.globals,
		CGIEscape:  c.cgiEscape,
		Preload:    c.preload,
		MaxMemory:  maxMemory,
		MaxProcs:   c.iso.maxProcs,
	})
	if err != nil {
		return nil, err
	}
	return &procConfig{exe: exe, arg: string(arg), timeout: c.timeout, maxRequests: c.maxRequests,
		maxMemory: maxMemory, logger: logger, startWait: 60 * time.Second}, nil
}

// procChild is one running worker process.
type procChild struct {
	cmd     *exec.Cmd
	conn    *net.UnixConn
	frames  chan frame    // frames from the worker; closed at EOF
	exited  chan struct{} // closed once the process has been reaped
	state   *os.ProcessState
	served  int
	retired bool
}

// start starts a worker process and waits until its Python is ready.
func (pc *procConfig) start() (*procChild, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	mine := os.NewFile(uintptr(fds[0]), "warmcgi-worker")
	theirs := os.NewFile(uintptr(fds[1]), "warmcgi-worker")
	defer theirs.Close()
	logR, logW, err := os.Pipe()
	if err != nil {
		mine.Close()
		return nil, err
	}
	cmd := exec.Command(pc.exe, "worker", pc.arg)
	cmd.ExtraFiles = []*os.File{theirs}
	// Nothing of the server's environment: each request brings its own.
	cmd.Env = []string{}
	cmd.Stderr = logW
	// Its own process group, with the script's children in it, so that a
	// timeout ends them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	logW.Close()
	if err != nil {
		mine.Close()
		logR.Close()
		return nil, err
	}
	go pc.relayLog(logR, cmd.Process.Pid)
	nc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	c := &procChild{cmd: cmd, conn: nc.(*net.UnixConn), frames: make(chan frame, 1), exited: make(chan struct{})}
	go c.readFrames()
	go func() {
		cmd.Wait()
		c.state = cmd.ProcessState
		close(c.exited)
	}()
	select {
	case f, ok := <-c.frames:
		switch {
		case ok && f.typ == msgReady:
			return c, nil
		case ok && f.typ == msgFail:
			err = fmt.Errorf("worker process: %s", f.payload)
		default:
			<-c.exited
			err = fmt.Errorf("worker process ended while starting: %s", c.state)
		}
	case <-time.After(pc.startWait):
		err = fmt.Errorf("worker process not ready after %v", pc.startWait)
	}
	c.kill()
	return nil, err
}

// relayLog logs what a worker process writes to its own stderr before its
// first request (a Python that cannot start says why there).
func (pc *procConfig) relayLog(r *os.File, pid int) {
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, 1<<20))
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			pc.logger.Warn("worker process", "pid", pid, "stderr", line)
		}
	}
}

func (c *procChild) readFrames() {
	defer close(c.frames)
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(c.conn, hdr[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(hdr[1:])
		if n > maxFrame {
			return
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.conn, p); err != nil {
			return
		}
		c.frames <- frame{hdr[0], p}
	}
}

// kill ends the worker and everything in its process group, and reaps it.
func (c *procChild) kill() {
	pid := c.cmd.Process.Pid
	// Twice: a fork racing the first kill puts a new process in the group.
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(-pid, syscall.SIGKILL)
	c.conn.Close()
	<-c.exited
}

// retire lets the worker finish: closing its socket makes it exit between
// requests. It is killed if it does not go within grace.
func (c *procChild) retire(grace time.Duration) {
	c.retired = true
	c.conn.Close()
	go func() {
		select {
		case <-c.exited:
		case <-time.After(grace):
			c.kill()
		}
	}()
}

// procWorker is what each pool thread owns in process mode: the slot of
// one worker process, restarted when it dies.
type procWorker struct {
	pc      *procConfig
	mu      sync.Mutex // held while a request runs, so reload waits for it
	cur     *procChild
	next    chan startResult // a replacement being started, or nil
	backoff time.Duration    // before the next start, after failed starts
	failAt  time.Time
	closed  bool
	env     []byte
	args    []byte
	frame   []byte
}

type startResult struct {
	c   *procChild
	err error
}

var _ interp.Interpreter = (*procWorker)(nil)

func newProcWorker(pc *procConfig) (*procWorker, error) {
	c, err := pc.start()
	if err != nil {
		return nil, err
	}
	return &procWorker{pc: pc, cur: c}, nil
}

// Close stops the worker process after its current request.
func (w *procWorker) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.next != nil {
		r := <-w.next
		w.next = nil
		if r.c != nil {
			r.c.retire(5 * time.Second)
			<-r.c.exited
		}
	}
	if w.cur != nil {
		w.cur.retire(5 * time.Second)
		<-w.cur.exited
		w.cur = nil
	}
	return nil
}

// prestart starts a replacement worker process in the background, after
// the back-off that repeated failures have built up.
func (w *procWorker) prestart() {
	ch := make(chan startResult, 1)
	w.next = ch
	delay := w.backoff
	go func() {
		if delay > 0 {
			time.Sleep(delay)
		}
		c, err := w.pc.start()
		ch <- startResult{c, err}
	}()
}

// child returns the worker process to run the next request in.
func (w *procWorker) child(ctx context.Context) (*procChild, error) {
	if w.cur != nil {
		return w.cur, nil
	}
	if w.next == nil {
		w.prestart()
	}
	select {
	case r := <-w.next:
		w.next = nil
		if r.err != nil {
			// Back off exponentially, so a Python that cannot start does
			// not make the server spin.
			w.backoff = min(max(2*w.backoff, 100*time.Millisecond), 30*time.Second)
			w.pc.logger.Error("worker process failed to start", "err", r.err, "retry_in", w.backoff)
			return nil, r.err
		}
		w.cur = r.c
		return r.c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// drop forgets the current worker process (dead, killed or retired) and
// starts its replacement at once, so the next request does not wait.
func (w *procWorker) drop() {
	w.cur = nil
	if w.next == nil {
		w.prestart()
	}
}

// procRunner runs Python requests in process mode.
type procRunner struct {
	pool    *interp.Pool[*procWorker]
	pc      *procConfig
	mu      sync.Mutex
	workers []*procWorker // every worker slot the pool made, for reload
}

func newProcRunner(c *serveConfig, maxMemory int64, logger *slog.Logger) (*procRunner, error) {
	pc, err := newProcConfig(c, maxMemory, logger)
	if err != nil {
		return nil, err
	}
	r := &procRunner{pc: pc}
	r.pool, err = interp.New(interp.Options{
		Workers:      c.workers,
		QueueSize:    c.queue,
		QueueTimeout: c.queueTimeout,
		Logger:       logger,
	}, func(int) (*procWorker, error) {
		w, err := newProcWorker(pc)
		if err == nil {
			r.mu.Lock()
			r.workers = append(r.workers, w)
			r.mu.Unlock()
		}
		return w, err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *procRunner) run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error) {
	if req.StdinStream != nil {
		// A worker process gets its body as a file: read it whole first
		// (a pipe fed while the script runs would need a reader of the
		// client's body that outlives the request when the script stops
		// reading early).
		f, err := spoolBody(req.StdinStream)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r2 := *req
		r2.StdinStream, r2.StdinFile = nil, f
		req = &r2
	}
	var out *cgienv.Output
	var runErr error
	err := r.pool.Do(ctx, func(w *procWorker) {
		w.mu.Lock()
		defer w.mu.Unlock()
		out, runErr = w.run(ctx, req, fl)
	})
	switch {
	case errors.Is(err, interp.ErrQueueFull):
		return nil, fmt.Errorf("%w: %w", cgienv.ErrOverloaded, err)
	case err != nil:
		return nil, err
	}
	return out, runErr
}

func (r *procRunner) close(ctx context.Context) error { return r.pool.Close(ctx) }

// reload replaces every worker process (SIGHUP): each is retired after
// its current request, and a fresh one, started beforehand, takes over.
func (r *procRunner) reload() {
	r.mu.Lock()
	ws := append([]*procWorker(nil), r.workers...)
	r.mu.Unlock()
	for _, w := range ws {
		go w.reload()
	}
}

// reload starts a new worker process, then swaps it in once the current
// request (if any) is done, and lets the old one exit.
func (w *procWorker) reload() {
	c, err := w.pc.start()
	if err != nil {
		w.pc.logger.Error("reload: new worker process failed to start; keeping the old one", "err", err)
		return
	}
	w.mu.Lock()
	old := w.cur
	if w.closed {
		old = c
	} else {
		w.cur = c
	}
	w.mu.Unlock()
	if old != nil {
		old.retire(5 * time.Second)
	}
}

// run runs one request in the worker's process; w.mu is held.
func (w *procWorker) run(ctx context.Context, req *cgienv.Request, fl shebangFlags) (*cgienv.Output, error) {
	c, err := w.child(ctx)
	if err != nil {
		return nil, err
	}
	var deadline <-chan time.Time
	if w.pc.timeout > 0 {
		t := time.NewTimer(w.pc.timeout)
		defer t.Stop()
		deadline = t.C
	}

	// The request's descriptors: stdin, stdout and stderr as the script
	// will see them, and the server's ends.
	stdin, feed, err := stdinFor(req)
	if err != nil {
		return nil, err
	}
	var p [4]int
	if err := syscall.Pipe2(p[0:2], syscall.O_CLOEXEC); err != nil {
		closeStdin(stdin, feed)
		return nil, err
	}
	if err := syscall.Pipe2(p[2:4], syscall.O_CLOEXEC); err != nil {
		closeStdin(stdin, feed)
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, err
	}
	outR, errR := pollable(p[0], "stdout"), pollable(p[2], "stderr")
	w.env = appendBlock(w.env[:0], req.Env)
	w.args = appendBlock(w.args[:0], req.Args)
	w.frame = encodeProcRequest(w.frame[:0], req, fl, w.env, w.args)
	var hdr [5]byte
	hdr[0] = msgRequest
	binary.LittleEndian.PutUint32(hdr[1:], uint32(len(w.frame)))
	_, _, err = c.conn.WriteMsgUnix(hdr[:], syscall.UnixRights(int(stdin.Fd()), p[1], p[3]), nil)
	if err == nil {
		_, err = c.conn.Write(w.frame)
	}
	// The worker has its copies now; the script's ends of the pipes must
	// be closed here, or the server would never see EOF.
	syscall.Close(p[1])
	syscall.Close(p[3])
	stdin.Close()
	if feed != nil {
		go feed()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		c.kill()
		w.drop()
		return nil, fmt.Errorf("worker process: sending request: %w", err)
	}

	var stdout, stderr bytes.Buffer
	var copies sync.WaitGroup
	copies.Add(2)
	go func() { io.Copy(&stdout, outR); copies.Done() }()
	go func() { io.Copy(&stderr, errR); copies.Done() }()
	eof := make(chan struct{})
	go func() { copies.Wait(); close(eof) }()

	timedOut := func() (*cgienv.Output, error) {
		c.kill()
		w.drop()
		outR.Close()
		errR.Close()
		<-eof
		if stderr.Len() > 0 {
			// Bounded: a fork bomb's children all complain.
			w.pc.logger.Warn("script stderr", "script", req.Script, "stderr", string(stderr.Bytes()[:min(stderr.Len(), 16<<10)]))
		}
		return nil, fmt.Errorf("%s: worker process killed after %v: %w", req.Script, w.pc.timeout, context.DeadlineExceeded)
	}

	var rep procReply
	died := false
	select {
	case f, ok := <-c.frames:
		if !ok || f.typ != msgDone {
			died = true
			break
		}
		if rep, err = decodeProcReply(f.payload); err != nil {
			died = true
		}
	case <-deadline:
		return timedOut()
	}
	if died {
		// The worker is gone (or going: os.exec* replaced it with a
		// program that may still be writing the response).
		select {
		case <-c.exited:
		case <-deadline:
			return timedOut()
		}
	}
	// As mod_cgi does, the response ends when every holder of the
	// script's stdout and stderr has closed them (a background child
	// may keep them open).
	select {
	case <-eof:
	case <-deadline:
		return timedOut()
	}

	out := &cgienv.Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: rep.ExitCode, Failure: rep.Failure}
	if died {
		w.drop()
		c.conn.Close()
		st := c.state
		ws, _ := st.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled():
			sig := ws.Signal()
			out.ExitCode = 128 + int(sig)
			out.Failure = "worker process killed by " + signalName(sig)
			w.pc.logger.Error("worker process died", "script", req.Script, "signal", signalName(sig), "pid", c.cmd.Process.Pid)
			if !hasHeaderBlock(out.Stdout) {
				// No response to pass on: the gateway failed.
				out.Stdout = []byte(badGatewayResponse)
			}
		default:
			// os._exit(n), or a program the script exec'd, exited: what
			// it wrote is the response, as under mod_cgi.
			out.ExitCode = st.ExitCode()
			if out.ExitCode != 0 {
				out.Failure = "exit status " + strconv.Itoa(out.ExitCode)
			}
		}
		return out, nil
	}
	w.backoff = 0
	c.served++
	switch {
	case rep.Retire:
		w.drop()
		c.retire(5 * time.Second)
	case w.pc.maxRequests > 0 && c.served >= w.pc.maxRequests:
		w.pc.logger.Info("worker process recycled after its request limit", "pid", c.cmd.Process.Pid, "requests", c.served)
		w.drop()
		c.retire(5 * time.Second)
	case w.pc.maxMemory > 0:
		if rss := residentBytes(c.cmd.Process.Pid); rss > w.pc.maxMemory {
			w.pc.logger.Info("worker process recycled: resident memory above --max-memory",
				"pid", c.cmd.Process.Pid, "rss", rss, "max_memory", w.pc.maxMemory)
			w.drop()
			c.retire(5 * time.Second)
		}
	}
	return out, nil
}

// stdinFor returns the descriptor the script reads as fd 0 and, when the
// body must be fed through a pipe, the function that feeds it.
func stdinFor(req *cgienv.Request) (*os.File, func(), error) {
	if req.StdinFile != nil {
		// The spooled body itself: the script reads it directly. A
		// duplicate, so closing ours leaves the handler's open.
		fd, err := syscall.Dup(int(req.StdinFile.Fd()))
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
	if len(req.Stdin) == 0 {
		wr.Close()
		return r, nil, nil
	}
	body := req.Stdin
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

// hasHeaderBlock reports whether out holds a complete CGI header block (an
// empty line ends it).
func hasHeaderBlock(out []byte) bool {
	for len(out) > 0 {
		line, rest, ok := bytes.Cut(out, []byte("\n"))
		if !ok {
			return false
		}
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return true
		}
		out = rest
	}
	return false
}

// badGatewayResponse is what a worker that died by a signal before its
// headers were complete answers: the server's own 502 page (Apache's
// wording for a proxy that got no valid response).
const badGatewayResponse = "Status: 502 Bad Gateway\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n" +
	"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>502 Bad Gateway</title>\n" +
	"</head><body>\n<h1>Bad Gateway</h1>\n<p>The script's worker process died before it sent a response.</p>\n" +
	"</body></html>\n"

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

// spoolBody copies a body to an unlinked temporary file positioned at its
// start.
func spoolBody(body io.Reader) (*os.File, error) {
	f, err := os.CreateTemp("", "warmcgi-body-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
