package procmode

// The parent side of --isolation fork. The Go server never forks itself
// (it is multi-threaded): a fork template, this binary re-executed with
// TemplateEnv set, starts Python before Go would start (pyhost/early.c),
// runs the template's Python (pyhost/fork/template.py), and forks one
// child per request. Frames (frame.go's format):
//
//	server -> template  'S' the template's source (read by early.c)
//	                    'L' the modules warmcgi brings, "name\x00source\x00"
//	                    'C' limits: --max-memory u64, --max-procs u64 (0: none),
//	                        then the directory of the learned imports
//	                    'Q' request: id u64, then encodeRequest's payload
//	                        (flags bit 1: python -B); fds 0, 1, 2 with the header
//	template -> server  'R' ready, after the standard library is imported
//	                    'P' started: id u64, pid i32 (0: fork failed), error text
//	                    'X' exited: id u64, wait status i32

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// TemplateEnv names the environment variable that makes this binary a
// fork template; pyhost.h's PH_FORK_TEMPLATE_ENV is the same name (a test
// in internal/backend holds them equal). The other two carry the Python
// settings the template starts with.
const (
	TemplateEnv        = "WARMCGI_FORK_TEMPLATE"
	templateProgramEnv = "WARMCGI_FORK_PROGRAM"
	templatePycacheEnv = "WARMCGI_FORK_PYCACHE"
)

const (
	msgSource  = 'S'
	msgPylib   = 'L'
	msgLimits  = 'C'
	msgStarted = 'P'
	msgExited  = 'X'
)

// ForkConfig is what a fork server starts its templates with.
type ForkConfig struct {
	Source     []byte // the template's Python (pyhost.ForkTemplate)
	Pylib      []byte // the modules warmcgi brings
	Program    string // Python's program name ("": Python's own default)
	PycacheDir string // --pycache-dir ("": no bytecode written)
	// MaxMemory is what each script may allocate beyond what its fork
	// started with (RLIMIT_DATA; 0: no limit); MaxProcs each script's
	// RLIMIT_NPROC (0: unchanged; the template keeps the server's, so it
	// can fork while a fork bomb holds the limit).
	MaxMemory int64
	MaxProcs  uint64
	Logger    *slog.Logger
}

// ForkServer runs requests in forks of a template process, which it
// starts, restarts when it dies and replaces on Reload.
type ForkServer struct {
	cfg       ForkConfig
	exe       string
	startWait time.Duration
	// learnDir keeps what the templates learned (the library modules the
	// scripts import) across templates: SIGHUP's, and those that died.
	learnDir string
	mu       sync.Mutex
	cur      *template // nil: start one at the next request
	backoff  time.Duration
	lastFail time.Time
	closed   bool
}

// template is one running template process.
type template struct {
	cmd     *exec.Cmd
	conn    *net.UnixConn
	logger  *slog.Logger
	wmu     sync.Mutex // one frame at a time on conn
	mu      sync.Mutex // guards runs, retired, dead
	runs    map[uint64]*forkRun
	retired bool
	dead    bool
	ready   chan error
	exited  chan struct{}
	nextID  atomic.Uint64
}

// forkRun is one request's child, as the template reports it.
type forkRun struct {
	id      uint64
	started chan startedMsg // one message
	exited  chan int        // the wait status, or -1 when the template died first
}

type startedMsg struct {
	pid int
	err error
}

// NewForkServer starts a fork template and waits until it is ready.
func NewForkServer(c ForkConfig) (*ForkServer, error) {
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("--isolation fork: cannot find this binary to start the template: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "warmcgi-fork-")
	if err != nil {
		return nil, err
	}
	fs := &ForkServer{cfg: c, exe: exe, startWait: 60 * time.Second, learnDir: dir}
	t, err := fs.start()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	fs.cur = t
	return fs, nil
}

// start starts a template process and waits for its ready frame.
func (fs *ForkServer) start() (*template, error) {
	env := []string{TemplateEnv + "=3", templateProgramEnv + "=" + fs.cfg.Program, templatePycacheEnv + "=" + fs.cfg.PycacheDir}
	cmd, conn, err := spawn(fs.exe, []string{"fork-template"}, env, fs.cfg.Logger, "fork template")
	if err != nil {
		return nil, err
	}
	t := &template{cmd: cmd, conn: conn, logger: fs.cfg.Logger, runs: make(map[uint64]*forkRun),
		ready: make(chan error, 1), exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(t.exited)
	}()
	go t.read()
	err = writeFrame(t.conn, msgSource, fs.cfg.Source)
	if err == nil {
		err = writeFrame(t.conn, msgPylib, fs.cfg.Pylib)
	}
	if err == nil {
		lim := binary.LittleEndian.AppendUint64(nil, uint64(max(fs.cfg.MaxMemory, 0)))
		lim = binary.LittleEndian.AppendUint64(lim, fs.cfg.MaxProcs)
		err = writeFrame(t.conn, msgLimits, append(lim, fs.learnDir...))
	}
	if err == nil {
		select {
		case err = <-t.ready:
		case <-time.After(fs.startWait):
			err = fmt.Errorf("not ready after %v", fs.startWait)
		}
	}
	if err != nil {
		t.kill()
		return nil, fmt.Errorf("fork template: %w", err)
	}
	return t, nil
}

// read dispatches the template's frames to the requests they answer; at
// EOF the template is dead and every request still waiting is told.
func (t *template) read() {
	died := errors.New("fork template died")
	for {
		f, err := readFrame(t.conn)
		if err != nil {
			break
		}
		switch {
		case f.typ == msgReady:
			t.ready <- nil
		case (f.typ == msgStarted || f.typ == msgExited) && len(f.payload) >= 12:
			t.answer(f)
		}
	}
	t.mu.Lock()
	t.dead = true
	runs := t.runs
	t.runs = nil
	t.mu.Unlock()
	select {
	case t.ready <- errors.New("ended while starting"):
	default:
	}
	for _, r := range runs {
		select {
		case r.started <- startedMsg{err: died}:
		default:
		}
		r.exited <- -1
	}
	t.conn.Close()
}

func (t *template) answer(f frame) {
	id := binary.LittleEndian.Uint64(f.payload)
	v := int(int32(binary.LittleEndian.Uint32(f.payload[8:])))
	t.mu.Lock()
	r := t.runs[id]
	if f.typ == msgExited || (f.typ == msgStarted && v == 0) {
		delete(t.runs, id)
	}
	last := t.retired && len(t.runs) == 0
	t.mu.Unlock()
	if r == nil {
		return
	}
	if f.typ == msgStarted {
		m := startedMsg{pid: v}
		if v == 0 {
			m.err = fmt.Errorf("fork: %s", f.payload[12:])
		}
		r.started <- m
		if v == 0 {
			r.exited <- -1
		}
	} else {
		r.exited <- v
	}
	if last {
		t.conn.CloseWrite() // the template exits once it has read everything
	}
}

// kill ends the template (not its children, which have process groups of
// their own) and waits for it.
func (t *template) kill() {
	t.cmd.Process.Kill()
	t.conn.Close()
	<-t.exited
}

// retire lets the template go once its last child has been reported.
func (t *template) retire() {
	t.mu.Lock()
	t.retired = true
	idle := len(t.runs) == 0
	t.mu.Unlock()
	if idle {
		t.conn.CloseWrite()
	}
}

// template returns the template to fork the next request from, starting
// one if there is none or the last one died.
func (fs *ForkServer) template() (*template, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return nil, errors.New("fork server closed")
	}
	if t := fs.cur; t != nil {
		t.mu.Lock()
		dead := t.dead
		t.mu.Unlock()
		if !dead {
			return t, nil
		}
		fs.cur = nil
		fs.cfg.Logger.Error("fork template died; starting a new one", "pid", t.cmd.Process.Pid)
	}
	if wait := fs.backoff - time.Since(fs.lastFail); wait > 0 {
		return nil, fmt.Errorf("fork template failed to start; next try in %v", wait.Round(time.Millisecond))
	}
	t, err := fs.start()
	if err != nil {
		fs.backoff = min(max(2*fs.backoff, 100*time.Millisecond), 30*time.Second)
		fs.lastFail = time.Now()
		fs.cfg.Logger.Error("fork template failed to start", "err", err, "retry_in", fs.backoff)
		return nil, err
	}
	fs.backoff = 0
	fs.cur = t
	return t, nil
}

// Reload starts a new template (SIGHUP: new code in the installed
// packages), swaps it in and retires the old one after its children.
func (fs *ForkServer) Reload() {
	t, err := fs.start()
	if err != nil {
		fs.cfg.Logger.Error("reload: new fork template failed to start; keeping the old one", "err", err)
		return
	}
	fs.mu.Lock()
	old := fs.cur
	if fs.closed {
		old = t
	} else {
		fs.cur = t
	}
	fs.mu.Unlock()
	if old != nil {
		old.retire()
	}
}

// Close retires the template; requests still running keep their
// children, which end on their own or at their deadline.
func (fs *ForkServer) Close() {
	fs.mu.Lock()
	fs.closed = true
	t := fs.cur
	fs.cur = nil
	fs.mu.Unlock()
	if t != nil {
		t.retire()
	}
	os.RemoveAll(fs.learnDir)
}
