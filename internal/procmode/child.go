package procmode

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketFD is where the server puts the worker's end of its socketpair
// (exec.Cmd.ExtraFiles[0]).
const socketFD = 3

// Executor runs one script in a worker process, with the request's
// descriptors already on fds 0-2; when Exec returns nil, it has pointed
// them at /dev/null again (so the server sees EOF on the request's pipes
// unless a child of the script holds them). Its methods are called on one
// locked OS thread, the one that made it.
type Executor interface {
	Exec(req *Request, res *Result) error
}

// Result is what an Executor reports of a request.
type Result struct {
	Stdout, Stderr []byte // output the runtime made itself (a compile error's text, say)
	ExitCode       int
	Failure        string
	ThreadsLeft    bool // threads the script started still run
	Retire         bool // the worker process must not take another request
}

// ErrUsage is RunChild's error when the process was not started by a
// server (by hand, say): a usage error.
var ErrUsage = errors.New("warmcgi worker: this is an internal command: 'warmcgi serve --isolation process' starts it with its socket on fd 3; it is not for use by hand")

// RunChild is the body of `warmcgi worker CONFIG`: it sets the process
// up as a script's, calls start (on the locked OS thread every Exec then
// runs on) and runs requests until the server closes the socket (nil) or
// the worker must not go on (an error, told to the server too).
func RunChild(args []string, start func(WorkerConfig) (Executor, error)) error {
	// Refuse to run without the server's socket: started by hand, fd 3
	// would be whatever the shell left there (or nothing).
	if typ, err := syscall.GetsockoptInt(socketFD, syscall.SOL_SOCKET, syscall.SO_TYPE); err != nil || typ != syscall.SOCK_STREAM {
		return ErrUsage
	}
	var cfg WorkerConfig
	if len(args) != 1 || json.Unmarshal([]byte(args[0]), &cfg) != nil {
		return ErrUsage
	}
	syscall.CloseOnExec(socketFD) // never inherited by a script's children
	sock := os.NewFile(socketFD, "warmcgi-socket")

	// The worker is the script's process now: its signals behave as a
	// python3's would (segfault, abort, SIGTERM... kill it), not as Go's
	// runtime would handle them for a Go program.
	defaultSignals()

	// One OS thread runs Python for the worker's life.
	runtime.LockOSThread()
	if cfg.MaxProcs > 0 {
		// RLIMIT_NPROC counts every thread of the user: a fork bomb in
		// one worker would leave another worker's Go runtime without the
		// thread it asks for (pthread_create fails: that worker aborts,
		// its request lost). The runtime keeps the threads it has made
		// and reuses them; it gets all it needs before the limit holds.
		spareThreads(runtime.GOMAXPROCS(0) + 4)
		lim := syscall.Rlimit{Cur: cfg.MaxProcs, Max: cfg.MaxProcs}
		if err := syscall.Setrlimit(unix.RLIMIT_NPROC, &lim); err != nil {
			return fail(sock, fmt.Sprintf("setrlimit(RLIMIT_NPROC): %v", err))
		}
	}
	ex, err := start(cfg)
	if err != nil {
		return fail(sock, err.Error())
	}
	if cfg.MaxMemory > 0 {
		// What the worker needed to start (the Go runtime reserves much
		// of it) does not count against the script's allowance.
		lim := uint64(cfg.MaxMemory) + dataSize()
		if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
			return fail(sock, fmt.Sprintf("--max-memory: setrlimit(RLIMIT_DATA): %v", err))
		}
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fail(sock, err.Error())
	}
	if err := writeFrame(sock, msgReady, nil); err != nil {
		return err
	}
	return serveRequests(sock, null, ex)
}

// serveRequests runs requests one at a time until the server closes the
// socket or the worker must retire.
func serveRequests(sock, null *os.File, ex Executor) error {
	before := processIdentity()
	var res Result
	var buf []byte
	for {
		var fds []int
		var err error
		var payload []byte
		buf, payload, fds, err = readRequestFrame(sock, buf)
		if err != nil {
			return nil // the server closed the socket: retire
		}
		req, err := decodeRequest(payload)
		if err != nil || len(fds) != 3 {
			closeFDs(fds)
			return fail(sock, fmt.Sprintf("bad request from server: %v (%d fds)", err, len(fds)))
		}
		installFDs(fds)
		res = Result{}
		execErr := ex.Exec(req, &res)
		// Output the runtime made itself (a compile error's text, say)
		// goes where the script's would have.
		writeAll(1, res.Stdout)
		writeAll(2, res.Stderr)
		rep := reply{ExitCode: res.ExitCode, Failure: res.Failure}
		if execErr != nil {
			rep.ExitCode, rep.Failure, rep.Retire = 1, execErr.Error(), true
			// A run that returned normally detached fds 0-2 itself
			// (the Executor's contract); this one may not have.
			for fd := 0; fd < 3; fd++ {
				syscall.Dup2(int(null.Fd()), fd)
			}
		}
		// A script that changed what the process is (its user, group,
		// session, limits) leaves a worker no later script should get.
		if processIdentity() != before {
			rep.Retire = true
		}
		// Threads of the script still running would write into the
		// next request's descriptors; in a CGI process they die when it
		// exits, and so they do here.
		if res.ThreadsLeft || res.Retire {
			rep.Retire = true
		}
		if err := writeFrame(sock, msgDone, rep.encode()); err != nil || rep.Retire {
			return nil
		}
	}
}

// spareThreads has the Go runtime start n OS threads, which it then keeps
// idle for later use: each of n goroutines locks itself to a thread of its
// own and waits, so the runtime must make a thread per goroutine; once
// they unlock and end, the threads go back to the runtime's idle list.
func spareThreads(n int) {
	release := make(chan struct{})
	var locked, ended sync.WaitGroup
	for range n {
		locked.Add(1)
		ended.Add(1)
		go func() {
			defer ended.Done()
			runtime.LockOSThread()
			locked.Done()
			<-release
			runtime.UnlockOSThread()
		}()
	}
	locked.Wait()
	close(release)
	ended.Wait()
}

// fail reports a startup or protocol failure to the server, which logs
// it, and ends the worker.
func fail(sock *os.File, msg string) error {
	writeFrame(sock, msgFail, []byte(msg))
	return errors.New(msg)
}

// readRequestFrame reads one request frame from the worker's socket and the
// descriptors that came with it (one recvmsg, when the frame fits in buf's
// capacity, as the server sends it in one message).
func readRequestFrame(sock *os.File, buf []byte) (newBuf, payload []byte, fds []int, err error) {
	fd := int(sock.Fd())
	if cap(buf) < 64<<10 {
		buf = make([]byte, 0, 64<<10)
	}
	var oob [64]byte // room for SCM_RIGHTS with 3 fds (CmsgSpace(12) = 32)
	n, oobn, _, _, err := syscall.Recvmsg(fd, buf[:cap(buf)], oob[:], syscall.MSG_CMSG_CLOEXEC)
	if err != nil {
		return buf, nil, nil, err
	}
	if n == 0 {
		return buf, nil, nil, io.EOF
	}
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
	got := buf[:n]
	if n < headerLen {
		got = got[:headerLen]
		if _, err := io.ReadFull(sock, got[n:]); err != nil {
			closeFDs(fds)
			return buf, nil, nil, err
		}
		n = headerLen
	}
	size, err := parseHeader([headerLen]byte(got[:headerLen]), msgRequest)
	if err != nil || n > headerLen+size {
		closeFDs(fds)
		if err == nil {
			err = errors.New("request frame followed by more data")
		}
		return buf, nil, nil, err
	}
	if headerLen+size > cap(buf) {
		buf = append(make([]byte, 0, headerLen+size), got...)
	}
	got = buf[:headerLen+size]
	if _, err := io.ReadFull(sock, got[n:]); err != nil {
		closeFDs(fds)
		return buf, nil, nil, err
	}
	return buf, got[headerLen:], fds, nil
}

// installFDs makes fds (received in order, each at the lowest free
// number) the process's 0, 1 and 2, and closes the received copies. A
// received fd below 3 (its place was free: the last script closed it) is
// one of the three already, or is copied to its place before that place
// is overwritten (the k-th received fd is at least k), so it is not
// closed.
func installFDs(fds []int) {
	for i, fd := range fds {
		if fd != i {
			syscall.Dup2(fd, i)
		}
	}
	for _, fd := range fds {
		if fd > 2 {
			syscall.Close(fd)
		}
	}
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
	uid, euid, suid, gid, egid, sgid, pgid, sid int
	limits                                      [4]syscall.Rlimit
}

func processIdentity() identity {
	var id identity
	id.uid, id.euid, id.suid = unix.Getresuid()
	id.gid, id.egid, id.sgid = unix.Getresgid()
	id.pgid = syscall.Getpgrp()
	id.sid, _ = unix.Getsid(0)
	for i, r := range []int{syscall.RLIMIT_DATA, syscall.RLIMIT_AS, syscall.RLIMIT_NOFILE, unix.RLIMIT_NPROC} {
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
