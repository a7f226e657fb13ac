package procmode

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// WorkerConfig is what the server tells a worker process at start
// (argv[2], JSON).
type WorkerConfig struct {
	PycacheDir string   `json:"pycache_dir"`
	Modules    string   `json:"modules"`
	Globals    string   `json:"globals"`
	CGIEscape  bool     `json:"cgi_escape"`
	Preload    []string `json:"preload"`
	MaxMemory  int64    `json:"max_memory"` // RLIMIT_DATA, 0: none
	MaxProcs   uint64   `json:"max_procs"`  // RLIMIT_NPROC, 0: unchanged
}

// Config is what every worker process of a server shares.
type Config struct {
	Worker      WorkerConfig
	MaxRequests int // a worker process is replaced after this many requests (0: never)
	Logger      *slog.Logger
}

// parent is a Config made ready to start worker processes.
type parent struct {
	exe         string // this binary
	arg         string // the worker's JSON configuration
	maxRequests int
	maxMemory   int64
	logger      *slog.Logger
	startWait   time.Duration // how long a worker may take to start Python
}

func newParent(c Config) (*parent, error) {
	// /proc/self/exe reaches this binary even where the --user account
	// could not (a directory only root may search), and stays this
	// binary if the file is replaced while the server runs.
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("--isolation process: cannot find this binary to start workers: %w", err)
		}
	}
	arg, err := json.Marshal(c.Worker)
	if err != nil {
		return nil, err
	}
	return &parent{exe: exe, arg: string(arg), maxRequests: c.MaxRequests,
		maxMemory: c.Worker.MaxMemory, logger: c.Logger, startWait: 60 * time.Second}, nil
}

// Child is one running worker process.
type Child struct {
	cmd     *exec.Cmd
	conn    *net.UnixConn
	fd      int           // conn's descriptor, read raw by the request loop (exchange.go)
	rbuf    []byte        // what was read of the worker's next frame
	inSet   bool          // fd is in the slot's poller
	sockTok uint64        // under this token
	exited  chan struct{} // closed once the process has been reaped
	state   *os.ProcessState
	served  int
	retired bool
}

// start starts a worker process and waits until its Python is ready.
func (pc *parent) start() (*Child, error) {
	cmd, conn, err := spawn(pc.exe, []string{"worker", pc.arg}, []string{}, pc.logger, "worker process")
	if err != nil {
		return nil, err
	}
	c := &Child{cmd: cmd, conn: conn, fd: -1, exited: make(chan struct{})}
	if raw, err := conn.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) { c.fd = int(fd) })
	}
	go func() {
		cmd.Wait()
		c.state = cmd.ProcessState
		close(c.exited)
	}()
	if err := c.awaitReady(pc.startWait); err != nil {
		return nil, err
	}
	return c, nil
}

// awaitReady waits for the worker's ready frame; a worker that fails to
// start is killed.
func (c *Child) awaitReady(wait time.Duration) error {
	f, err := c.readFrame(time.Now().Add(wait))
	switch {
	case err == errTimedOut:
		err = fmt.Errorf("worker process not ready after %v", wait)
	case err == nil && f.typ == msgReady:
		return nil
	case err == nil && f.typ == msgFail:
		err = fmt.Errorf("worker process: %s", f.payload)
	default:
		c.conn.Close()
		<-c.exited
		err = fmt.Errorf("worker process ended while starting: %s", c.state)
	}
	c.kill()
	return err
}

// readFrame reads the worker's next frame, waiting until deadline.
func (c *Child) readFrame(deadline time.Time) (frame, error) {
	for {
		if f, ok, err := c.nextFrame(); ok || err != nil {
			return f, err
		}
		now := time.Now()
		if !now.Before(deadline) {
			return frame{}, errTimedOut
		}
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, pollTimeout(now, deadline)); err != nil && err != unix.EINTR {
			return frame{}, err
		}
		if fds[0].Revents != 0 {
			if err := c.fill(); err != nil {
				return frame{}, err
			}
		}
	}
}

// fill reads what the socket has into rbuf; io.EOF when the worker
// closed it.
func (c *Child) fill() error {
	if cap(c.rbuf)-len(c.rbuf) < 512 {
		c.rbuf = append(c.rbuf, make([]byte, 4096)...)[:len(c.rbuf)]
	}
	n, err := syscall.Read(c.fd, c.rbuf[len(c.rbuf):cap(c.rbuf)])
	switch {
	case n > 0:
		c.rbuf = c.rbuf[:len(c.rbuf)+n]
		return nil
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return nil
	case err == nil:
		return io.EOF
	}
	return err
}

// nextFrame takes a whole frame from rbuf, if there is one.
func (c *Child) nextFrame() (frame, bool, error) {
	if len(c.rbuf) < headerLen {
		return frame{}, false, nil
	}
	n, err := parseHeader([headerLen]byte(c.rbuf[:headerLen]), 0)
	if err != nil {
		return frame{}, false, err
	}
	if len(c.rbuf) < headerLen+n {
		return frame{}, false, nil
	}
	f := frame{c.rbuf[0], append([]byte(nil), c.rbuf[headerLen:headerLen+n]...)}
	c.rbuf = append(c.rbuf[:0], c.rbuf[headerLen+n:]...)
	return f, true, nil
}

// readReply reads what the socket has of the worker's reply to a request:
// ok once it is whole; died when the worker closed the socket or broke
// the protocol.
func (c *Child) readReply() (rep reply, ok, died bool) {
	if err := c.fill(); err != nil {
		return rep, false, true
	}
	f, ok, err := c.nextFrame()
	if err != nil || (ok && f.typ != msgDone) {
		return rep, false, true
	}
	if !ok {
		return rep, false, false
	}
	if rep, err = decodeReply(f.payload); err != nil {
		return rep, false, true
	}
	return rep, true, false
}

// kill ends the worker and everything in its process group, and reaps it.
func (c *Child) kill() {
	pid := c.cmd.Process.Pid
	// Twice: a fork racing the first kill puts a new process in the group.
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(-pid, syscall.SIGKILL)
	c.conn.Close()
	<-c.exited
}

// retire lets the worker finish: closing its socket makes it exit between
// requests. It is killed if it does not go within grace.
func (c *Child) retire(grace time.Duration) {
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
