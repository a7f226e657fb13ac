package main

// The worker side of --isolation process: `warmcgi worker`, a hidden
// subcommand the server starts once per process-mode worker. It owns one
// interpreter and runs one request at a time with the request's own pipes
// on fds 0, 1 and 2 (see procpool.go for the server side and the wire
// format).

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/warmcgi/warmcgi/pyhost"
)

// workerSocketFD is where the server puts the worker's end of its
// socketpair (exec.Cmd.ExtraFiles[0]).
const workerSocketFD = 3

// workerConfig is what the server tells a worker at start (argv[2], JSON).
type workerConfig struct {
	PycacheDir string   `json:"pycache_dir"`
	Modules    string   `json:"modules"`
	Globals    string   `json:"globals"`
	CGIEscape  bool     `json:"cgi_escape"`
	Preload    []string `json:"preload"`
	MaxMemory  int64    `json:"max_memory"` // RLIMIT_DATA, 0: none
	MaxProcs   uint64   `json:"max_procs"`  // RLIMIT_NPROC, 0: unchanged
}

const workerRefusal = "warmcgi worker: this is an internal command: 'warmcgi serve --isolation process' starts it with its socket on fd 3; it is not for use by hand\n"

// workerCmd is `warmcgi worker CONFIG`. It returns only when the server
// closes the socket or the worker must not go on.
func workerCmd(args []string, stderr io.Writer) int {
	// Refuse to run without the server's socket: started by hand, fd 3
	// would be whatever the shell left there (or nothing).
	if typ, err := syscall.GetsockoptInt(workerSocketFD, syscall.SOL_SOCKET, syscall.SO_TYPE); err != nil || typ != syscall.SOCK_STREAM {
		fmt.Fprint(stderr, workerRefusal)
		return exitUsage
	}
	var cfg workerConfig
	if len(args) != 1 || json.Unmarshal([]byte(args[0]), &cfg) != nil {
		fmt.Fprint(stderr, workerRefusal)
		return exitUsage
	}
	syscall.CloseOnExec(workerSocketFD) // never inherited by a script's children
	sock := os.NewFile(workerSocketFD, "warmcgi-socket")

	// The worker is the script's process now: its signals behave as a
	// python3's would (segfault, abort, SIGTERM... kill it), not as Go's
	// runtime would handle them for a Go program.
	defaultSignals()
	if cfg.MaxProcs > 0 {
		const rlimitNproc = 6 // RLIMIT_NPROC on Linux (not in package syscall)
		lim := syscall.Rlimit{Cur: cfg.MaxProcs, Max: cfg.MaxProcs}
		if err := syscall.Setrlimit(rlimitNproc, &lim); err != nil {
			return workerFail(sock, fmt.Sprintf("setrlimit(RLIMIT_NPROC): %v", err))
		}
	}

	// One OS thread runs Python for the worker's life.
	runtime.LockOSThread()
	if err := pyhost.Init(pyhost.Config{PycachePrefix: cfg.PycacheDir}); err != nil {
		return workerFail(sock, err.Error())
	}
	ip, err := pyhost.NewInterp(pyhost.InterpOptions{
		Chdir:       true, // the process is the script's: chdir is real
		KeepModules: cfg.Modules == "keep",
		KeepGlobals: cfg.Globals == "keep",
		CGIEscape:   cfg.CGIEscape,
		Preload:     cfg.Preload,
		RealProcess: true,
		// The process is the script's alone: the main interpreter, as
		// under CGI (C extensions that refuse sub-interpreters load,
		// and os.fork is CPython's own).
		Main: true,
	})
	if err != nil {
		return workerFail(sock, err.Error())
	}
	if cfg.MaxMemory > 0 {
		// What the worker needed to start (the Go runtime reserves much
		// of it) does not count against the script's allowance.
		lim := uint64(cfg.MaxMemory) + dataSize()
		if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
			return workerFail(sock, fmt.Sprintf("--max-memory: setrlimit(RLIMIT_DATA): %v", err))
		}
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return workerFail(sock, err.Error())
	}
	before := processIdentity()
	if err := writeFrame(sock, msgReady, nil); err != nil {
		return exitStartup
	}

	var res pyhost.Result
	var buf []byte
	for {
		var fds []int
		var err error
		buf, fds, err = readRequestFrame(sock, buf[:0])
		if err != nil {
			return exitOK // the server closed the socket: retire
		}
		req, err := decodeProcRequest(buf)
		if err != nil || len(fds) != 3 {
			closeFDs(fds)
			return workerFail(sock, fmt.Sprintf("bad request from server: %v (%d fds)", err, len(fds)))
		}
		for i, fd := range fds {
			syscall.Dup2(fd, i)
		}
		closeFDs(fds)
		execErr := ip.Exec(req, &res)
		// Output the runtime made itself (a compile error's text, say)
		// goes where the script's would have.
		writeAll(1, res.Stdout)
		writeAll(2, res.Stderr)
		for fd := 0; fd < 3; fd++ {
			syscall.Dup2(int(null.Fd()), fd)
		}
		rep := procReply{ExitCode: res.ExitCode, Failure: res.Failure}
		if execErr != nil {
			rep.ExitCode, rep.Failure, rep.Retire = 1, execErr.Error(), true
		}
		// A script that changed what the process is (its user, group,
		// session, limits) leaves a worker no later script should get.
		if processIdentity() != before {
			rep.Retire = true
		}
		// Threads of the script still running would write into the
		// next request's descriptors; in a CGI process they die when it
		// exits, and so they do here.
		if res.ThreadsLeft {
			rep.Retire = true
		}
		if err := writeFrame(sock, msgDone, rep.encode()); err != nil || rep.Retire {
			return exitOK
		}
	}
}

// workerFail reports a startup or protocol failure to the server, which
// logs it, and ends the worker.
func workerFail(sock *os.File, msg string) int {
	writeFrame(sock, msgFail, []byte(msg))
	return exitStartup
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		syscall.Close(fd)
	}
}

func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err != nil {
			return
		}
		b = b[n:]
	}
}

// identity is what a request must leave unchanged for the worker to be
// reused.
type identity struct {
	uid, euid, gid, egid, pgid, sid int
	limits                          [4]syscall.Rlimit
}

func processIdentity() identity {
	id := identity{uid: os.Getuid(), euid: os.Geteuid(), gid: os.Getgid(), egid: os.Getegid(), pgid: syscall.Getpgrp()}
	id.sid, _ = getsid()
	for i, r := range []int{syscall.RLIMIT_DATA, syscall.RLIMIT_AS, syscall.RLIMIT_NOFILE, 6 /* NPROC */} {
		syscall.Getrlimit(r, &id.limits[i])
	}
	return id
}

// dataSize is the process's data segment size (VmData), as RLIMIT_DATA
// counts it; 0 when unknown.
func dataSize() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmData:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func getsid() (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_GETSID, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// defaultSignals gives every classic signal the disposition a freshly
// exec'd python3 has, below the Go runtime: the default action (a
// segfault or os.abort() kills the worker by that signal, as it would
// kill a CGI process), except SIGPIPE and SIGXFSZ, which CPython ignores
// (a write to a closed pipe raises BrokenPipeError). SIGURG stays Go's:
// the scheduler preempts goroutines with it. Real-time signals stay as
// they are (glibc uses two of them for setuid across threads).
func defaultSignals() {
	for sig := syscall.Signal(1); sig < 32; sig++ {
		switch sig {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGURG:
			continue
		}
		var handler uintptr // SIG_DFL
		if sig == syscall.SIGPIPE || sig == syscall.SIGXFSZ {
			handler = 1 // SIG_IGN
		}
		// struct kernel_sigaction {handler, flags, restorer, mask}: with
		// no flags and an empty mask the layout of the rest is moot.
		var sa [4]uintptr
		sa[0] = handler
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&sa[0])), 0, 8, 0, 0)
	}
}
