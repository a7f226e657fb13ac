package procmode

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// poller is a slot's own epoll set, itself waited on through Go's network
// poller: a request's descriptors join it with one epoll_ctl each and
// leave it as they are closed, and the goroutine running the request
// parks while nothing is ready (a thread blocked in poll(2) would keep its
// P until the runtime's monitor took it back, and keep that monitor
// waking every 20 µs).
type poller struct {
	epfd int
	f    *os.File // epfd, registered with the runtime's poller
	rc   syscall.RawConn
	evs  [4]syscall.EpollEvent
}

func newPoller() (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	p := &poller{epfd: fd, f: os.NewFile(uintptr(fd), "epoll")}
	if p.rc, err = p.f.SyscallConn(); err != nil {
		p.f.Close()
		return nil, err
	}
	return p, nil
}

func (p *poller) close() { p.f.Close() }

// Event tokens: an event names the request (its sequence number, above
// the low 8 bits) and the descriptor; an event of an earlier request's
// descriptor (one a concurrent fork still held open when it was closed,
// so the kernel kept it in the set) is ignored. The worker's socket has a
// token of its own, with the top bit set (Child.sockTok).
const (
	tokOut = iota
	tokErr
	tokIn
	tokSock
)

// add adds fd to the set, level-triggered, under token tok.
func (p *poller) add(fd int, events uint32, tok uint64) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(tok), Pad: int32(tok >> 32)}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
}

// del removes fd from the set.
func (p *poller) del(fd int) { syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil) }

// wait returns the tokens of the ready descriptors, parking until one is
// ready or until (zero: no limit); none at the limit.
func (p *poller) wait(until time.Time) ([]syscall.EpollEvent, error) {
	var n int
	var werr error
	if !until.IsZero() {
		p.f.SetReadDeadline(until)
	} else {
		p.f.SetReadDeadline(time.Time{})
	}
	err := p.rc.Read(func(uintptr) bool {
		n, werr = syscall.EpollWait(p.epfd, p.evs[:], 0)
		return n != 0 || (werr != nil && werr != syscall.EINTR)
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, nil
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	return p.evs[:n], nil
}

// token is the token an event was added with.
func token(ev *syscall.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }
