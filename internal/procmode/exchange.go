package procmode

import (
	"errors"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The server's side of one request in a worker process runs on the
// thread that called Slot.Run, in one poll(2) loop over raw descriptors:
// the read ends of the script's stdout and stderr, the write end of its
// stdin while a body is still to be fed, and the worker's socket for its
// reply. On a VM where every system call and every goroutine wake-up
// costs microseconds, this replaced per-request *os.File pipes
// (fcntl, epoll_ctl add and delete each), three goroutines and two
// channel hand-offs to the locked pool thread: the pipes themselves are
// what CGI needs (EOF when every holder closed them, output kept when
// the worker dies), the rest was overhead.

// exchange is one request's descriptors on the server's side; -1: closed.
type exchange struct {
	out, err, in int
	body         []byte // what is still to be written to in
	stdout       []byte // what was not streamed
	stderr       []byte
	streamed     bool
}

// newExchange makes the request's pipes (and its stdin: a pipe holding
// the body, the spooled body's file, or without a body the slot's empty
// pipe, eof) and returns the server's side and the three descriptors the
// script gets as fds 0-2, which the caller closes once they are sent
// (closeScript).
func newExchange(job *Job, eof int) (*exchange, [3]int, error) {
	x := &exchange{out: -1, err: -1, in: -1}
	script := [3]int{-1, -1, -1}
	fail := func(err error) (*exchange, [3]int, error) {
		x.close()
		closeScript(script, eof)
		return nil, script, err
	}
	var p [2]int
	if job.StdinFile == nil && len(job.Stdin) == 0 && eof >= 0 {
		// No body: the slot's pipe that no one can ever write to (its
		// write end was closed as it was made), which every read finds
		// at its end, as a new empty pipe (mod_cgi's) would be.
		script[0] = eof
	} else if job.StdinFile != nil {
		// The spooled body itself: the script reads it directly. A
		// duplicate, so closing ours leaves the handler's open.
		fd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, job.StdinFile.Fd(), syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			return fail(errno)
		}
		script[0] = int(fd)
	} else {
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			return fail(err)
		}
		script[0], x.in = p[0], p[1]
		if len(job.Stdin) == 0 {
			syscall.Close(x.in)
			x.in = -1
		} else {
			// Ours alone: never blocking, so a script that does not read
			// its body cannot hold the server.
			if _, err := unix.FcntlInt(uintptr(x.in), syscall.F_SETFL, syscall.O_WRONLY|syscall.O_NONBLOCK); err != nil {
				return fail(err)
			}
			x.body = job.Stdin
			x.feed()
		}
	}
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return fail(err)
	}
	x.out, script[1] = p[0], p[1]
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return fail(err)
	}
	x.err, script[2] = p[0], p[1]
	return x, script, nil
}

// closeScript closes the script's descriptors, but not the slot's eof.
func closeScript(script [3]int, eof int) {
	for _, fd := range script {
		if fd >= 0 && fd != eof {
			syscall.Close(fd)
		}
	}
}

// newEOFPipe makes a pipe whose write end is closed at once: its read end
// is at its end for every reader, for ever (nothing can be written to it,
// so nothing one request leaves in it can reach another).
func newEOFPipe() (int, error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return -1, err
	}
	syscall.Close(p[1])
	return p[0], nil
}

// feed writes what the stdin pipe takes of the body now, and closes it
// once the body is all written or the script's end is gone.
func (x *exchange) feed() {
	for len(x.body) > 0 {
		n, err := syscall.Write(x.in, x.body)
		if n > 0 {
			x.body = x.body[n:]
		}
		if err == syscall.EAGAIN {
			return
		}
		if err != nil && err != syscall.EINTR {
			break // EPIPE: the script's stdin is closed
		}
	}
	x.body = nil
	syscall.Close(x.in)
	x.in = -1
}

// close closes what is still open.
func (x *exchange) close() {
	for _, fd := range []*int{&x.out, &x.err, &x.in} {
		if *fd >= 0 {
			syscall.Close(*fd)
			*fd = -1
		}
	}
}

// drain reads what is ready on *fd into *dst with scratch, closing it at
// EOF (or on an error: nothing more will come).
func drain(fd *int, dst *[]byte, scratch []byte) {
	n, err := syscall.Read(*fd, scratch)
	if n > 0 {
		*dst = append(*dst, scratch[:n]...)
		return
	}
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	syscall.Close(*fd)
	*fd = -1
}

// stream holds the streaming state of stdout (see pumpStdout, whose
// policy it follows: held output is offered streamDelay after it arrived,
// or once streamAt has gathered).
type stream struct {
	fn       func([]byte) StreamAnswer // nil: not streamed
	offering bool
	due      time.Time // when held output is offered; zero: not planned
}

// arrived notes that output arrived (the moment it is first held).
func (s *stream) arrived(now time.Time) {
	if s.offering && s.due.IsZero() {
		s.due = now.Add(streamDelay)
	}
}

// offer offers the held output when it is due or large enough.
func (s *stream) offer(x *exchange, now time.Time) {
	if !s.offering || len(x.stdout) == 0 || (len(x.stdout) < streamAt && (s.due.IsZero() || now.Before(s.due))) {
		return
	}
	s.due = time.Time{}
	switch s.fn(x.stdout) {
	case StreamSent:
		x.streamed = true
		x.stdout = x.stdout[:0:0]
	case StreamKeep:
		// Offered again once more arrives.
	case StreamDecline:
		s.offering = false
	case StreamGone:
		// The script's next write fails as on a closed pipe; what it
		// wrote meanwhile is dropped.
		x.stdout = x.stdout[:0:0]
		if x.out >= 0 {
			syscall.Close(x.out)
			x.out = -1
		}
	}
}

// errTimedOut is wait's error when the request's deadline came first.
var errTimedOut = errors.New("deadline")

// wait runs the request to its end: the worker's reply (or its death and
// reaping), then EOF on the script's stdout and stderr, which, as under
// mod_cgi, come when every holder closed them (a background child may
// keep them open); meanwhile it feeds stdin and streams stdout. It
// returns errTimedOut at the deadline (zero: none). The descriptors wait
// in the slot's poller p under tokens of request number seq.
func (x *exchange) wait(c *Child, job *Job, p *poller, seq uint64, deadline time.Time, scratch []byte) (rep reply, died bool, err error) {
	base := seq << 8
	if err := x.register(c, p, base); err != nil {
		return rep, false, err
	}
	st := stream{fn: job.Stream, offering: job.Stream != nil}
	replied, reaped := false, false
	for {
		now := time.Now()
		st.offer(x, now)
		if (replied || reaped) && x.out < 0 && x.err < 0 {
			return rep, died, nil
		}
		if !deadline.IsZero() && !now.Before(deadline) {
			return rep, died, errTimedOut
		}
		until := earliest(deadline, st.due)
		if died && !reaped {
			// The worker is gone, or going (os.exec* made it a program
			// that may still be writing the response): its status comes
			// from the reaper, whose channel the poller cannot wait on.
			select {
			case <-c.exited:
				reaped = true
				continue
			default:
			}
			if x.out < 0 && x.err < 0 {
				if err := waitExited(c, deadline); err != nil {
					return rep, died, err
				}
				reaped = true
				continue
			}
			until = earliest(until, now.Add(5*time.Millisecond))
		}
		evs, err := p.wait(until)
		if err != nil {
			return rep, died, err
		}
		for i := range evs {
			tok := token(&evs[i])
			if tok == c.sockTok {
				if replied || died {
					// Readable again after the reply (the worker is
					// exiting): it would wake every wait from now on.
					p.del(c.fd)
					c.inSet = false
					continue
				}
				var ok bool
				rep, ok, died = c.readReply()
				replied = ok && !died
				continue
			}
			if tok>>8 != seq {
				continue // an earlier request's descriptor
			}
			switch tok & 0xff {
			case tokOut:
				if x.out >= 0 {
					before := len(x.stdout)
					drain(&x.out, &x.stdout, scratch)
					if len(x.stdout) > before {
						st.arrived(time.Now())
					}
				}
			case tokErr:
				if x.err >= 0 {
					drain(&x.err, &x.stderr, scratch)
				}
			case tokIn:
				if x.in >= 0 {
					x.feed()
				}
			}
		}
	}
}

// register puts the request's descriptors, and the worker's socket if it
// is not there yet, in p.
func (x *exchange) register(c *Child, p *poller, base uint64) error {
	if err := p.add(x.out, syscall.EPOLLIN, base|tokOut); err != nil {
		return err
	}
	if err := p.add(x.err, syscall.EPOLLIN, base|tokErr); err != nil {
		return err
	}
	if x.in >= 0 {
		if err := p.add(x.in, syscall.EPOLLOUT, base|tokIn); err != nil {
			return err
		}
	}
	if !c.inSet {
		// The socket stays in the set for the worker's life (or until
		// it is readable when no reply is due), under a token of its own.
		c.sockTok = 1<<63 | base | tokSock
		if err := p.add(c.fd, syscall.EPOLLIN, c.sockTok); err != nil {
			return err
		}
		c.inSet = true
	}
	return nil
}

// earliest is the earlier of two times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// pollTimeout is poll(2)'s timeout in milliseconds until the earlier of
// the non-zero times (rounded up); -1: none.
func pollTimeout(now time.Time, ts ...time.Time) int {
	timeout := -1
	for _, t := range ts {
		if !t.IsZero() {
			ms := int(max(t.Sub(now)+time.Millisecond-1, 0) / time.Millisecond)
			if timeout < 0 || ms < timeout {
				timeout = ms
			}
		}
	}
	return timeout
}

// waitExited waits until the worker process has been reaped, or the
// deadline (zero: none).
func waitExited(c *Child, deadline time.Time) error {
	if deadline.IsZero() {
		<-c.exited
		return nil
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-c.exited:
		return nil
	case <-t.C:
		return errTimedOut
	}
}
