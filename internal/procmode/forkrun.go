package procmode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// errRetired is send's error on a template that SIGHUP replaced.
var errRetired = errors.New("fork template retired")

// Run runs one request in a fresh fork of the template: the script gets
// the request's pipes (or spooled body) as fds 0-2. Past job.Timeout the
// child's process group is killed and Run returns ErrDeadline. A child
// killed by a signal sets Output.Signal.
func (fs *ForkServer) Run(ctx context.Context, job *Job) (*Output, error) {
	var deadline <-chan time.Time
	if job.Timeout > 0 {
		tm := time.NewTimer(job.Timeout)
		defer tm.Stop()
		deadline = tm.C
	}
	r, outR, errR, o, st, err := fs.begin(job)
	if err != nil {
		return nil, err
	}
	status, ok := awaitChild(r, deadline, o.eof)
	if !ok {
		// The whole group: the script and every child it started. Twice:
		// a fork racing the first kill puts a new process in the group.
		syscall.Kill(-st.pid, syscall.SIGKILL)
		syscall.Kill(-st.pid, syscall.SIGKILL)
		outR.Close()
		errR.Close()
		<-o.eof
		logStderr(fs.cfg.Logger, job.Script, o.stderr.Bytes())
		return nil, ErrDeadline
	}
	out := &Output{Stdout: o.stdout.Bytes(), Stderr: o.stderr.Bytes(), Streamed: o.streamed}
	ws := syscall.WaitStatus(status)
	switch {
	case status < 0:
		out.ExitCode = -1
		out.Failure = "fork template died: exit status unknown"
	case ws.Signaled():
		out.Signal = ws.Signal()
		out.ExitCode = 128 + int(out.Signal)
		out.Failure = "killed by " + signalName(out.Signal)
		fs.cfg.Logger.Error("script process died", "script", job.Script, "signal", signalName(out.Signal), "pid", st.pid)
	default:
		out.ExitCode = ws.ExitStatus()
		if out.ExitCode != 0 {
			out.Failure = "exit status " + strconv.Itoa(out.ExitCode)
		}
	}
	return out, nil
}

// begin gives the request to the current template and waits until its
// child has started. A request the template never read, because SIGHUP
// retired it, goes to the next template:
// no script ran for it, and its body is still whole.
func (fs *ForkServer) begin(job *Job) (r *forkRun, outR, errR *os.File, o *output, st startedMsg, err error) {
	for try := 1; ; try++ {
		t, err := fs.template()
		if err != nil {
			return nil, nil, nil, nil, st, err
		}
		r, outR, errR, err = t.send(job)
		if errors.Is(err, errRetired) && try < 3 {
			continue
		}
		if err != nil {
			return nil, nil, nil, nil, st, err
		}
		o = collect(outR, errR, job.Stream)
		if st = <-r.started; st.err == nil {
			return r, outR, errR, o, st, nil
		}
		outR.Close()
		errR.Close()
		<-o.eof
		return nil, nil, nil, nil, st, st.err
	}
}

// awaitChild waits for the child's exit, then, as mod_cgi does, for every
// holder of its stdout and stderr to close them. ok is false when the
// deadline came first.
func awaitChild(r *forkRun, deadline <-chan time.Time, eof <-chan struct{}) (status int, ok bool) {
	select {
	case status = <-r.exited:
	case <-deadline:
		return 0, false
	}
	select {
	case <-eof:
	case <-deadline:
		return 0, false
	}
	return status, true
}

// send registers a request with the template and gives it the request's
// frame and the descriptors the script will have as fds 0-2. It returns
// the server's ends of stdout and stderr.
func (t *template) send(job *Job) (r *forkRun, outR, errR *os.File, err error) {
	stdin, feed, err := stdinFor(job)
	if err != nil {
		return nil, nil, nil, err
	}
	var p [4]int
	if err := syscall.Pipe2(p[0:2], syscall.O_CLOEXEC); err != nil {
		closeStdin(stdin, feed)
		return nil, nil, nil, err
	}
	if err := syscall.Pipe2(p[2:4], syscall.O_CLOEXEC); err != nil {
		closeStdin(stdin, feed)
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, nil, nil, err
	}
	outR, errR = pollable(p[0], "stdout"), pollable(p[2], "stderr")
	r = &forkRun{id: t.nextID.Add(1), started: make(chan startedMsg, 1), exited: make(chan int, 1)}
	t.mu.Lock()
	dead, retired := t.dead, t.retired
	if !dead && !retired {
		t.runs[r.id] = r
	}
	t.mu.Unlock()
	if dead {
		err = fmt.Errorf("fork template died")
	} else if retired {
		err = errRetired
	} else {
		err = t.write(r.id, job, [3]int{int(stdin.Fd()), p[1], p[3]})
	}
	// The template has its copies now; the script's ends of the pipes
	// must be closed here, or the server would never see EOF.
	syscall.Close(p[1])
	syscall.Close(p[3])
	stdin.Close()
	if feed != nil {
		go feed()
	}
	if err != nil {
		t.mu.Lock()
		if t.runs != nil {
			delete(t.runs, r.id)
		}
		t.mu.Unlock()
		outR.Close()
		errR.Close()
		if err == errRetired {
			return nil, nil, nil, err
		}
		return nil, nil, nil, fmt.Errorf("fork template: sending request: %w", err)
	}
	return r, outR, errR, nil
}

// write sends one request frame, its header carrying the three fds.
func (t *template) write(id uint64, job *Job, fds [3]int) error {
	b := binary.LittleEndian.AppendUint64(nil, id)
	env := AppendBlock(nil, job.Env)
	args := AppendBlock(nil, job.Args)
	b = encodeRequest(b, &Request{Path: job.Script, Stamp: job.Stamp,
		Unbuffered: job.Unbuffered, Optimize: job.Optimize, Env: env, Args: args})
	if job.NoBytecode {
		b[8] |= 2
	}
	hdr := frameHeader(msgRequest, len(b))
	t.wmu.Lock()
	defer t.wmu.Unlock()
	_, _, err := t.conn.WriteMsgUnix(hdr[:], syscall.UnixRights(fds[0], fds[1], fds[2]), nil)
	if err == nil {
		_, err = t.conn.Write(b)
	}
	return err
}
