package procmode

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
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
	frames  chan frame    // frames from the worker; closed at EOF
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
	c := &Child{cmd: cmd, conn: conn, frames: make(chan frame, 1), exited: make(chan struct{})}
	go c.readFrames()
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
	var err error
	select {
	case f, ok := <-c.frames:
		switch {
		case ok && f.typ == msgReady:
			return nil
		case ok && f.typ == msgFail:
			err = fmt.Errorf("worker process: %s", f.payload)
		default:
			<-c.exited
			err = fmt.Errorf("worker process ended while starting: %s", c.state)
		}
	case <-time.After(wait):
		err = fmt.Errorf("worker process not ready after %v", wait)
	}
	c.kill()
	return err
}

func (c *Child) readFrames() {
	defer close(c.frames)
	for {
		f, err := readFrame(c.conn)
		if err != nil {
			return
		}
		c.frames <- f
	}
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
