package procmode

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"
)

// spawn starts exe with args as a helper process of the server (a process
// worker, a fork template): one end of a socket pair as its fd 3, env as
// its whole environment (nothing of the server's: each request brings its
// own), its stderr logged line by line as msg, and a process group of its
// own, so that a terminal's ^C reaches only the server, which then stops
// its helpers in order, and a kill of the group ends what they started.
// It returns the started command and the server's end of the socket.
func spawn(exe string, args, env []string, logger *slog.Logger, msg string) (*exec.Cmd, *net.UnixConn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	mine := os.NewFile(uintptr(fds[0]), "warmcgi-helper")
	theirs := os.NewFile(uintptr(fds[1]), "warmcgi-helper")
	defer theirs.Close()
	logR, logW, err := os.Pipe()
	if err != nil {
		mine.Close()
		return nil, nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	cmd.Env = env
	cmd.Stderr = logW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	logW.Close()
	if err != nil {
		mine.Close()
		logR.Close()
		return nil, nil, err
	}
	go relayLines(logger, logR, cmd.Process.Pid, msg)
	nc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, nil, err
	}
	return cmd, nc.(*net.UnixConn), nil
}

// relayLines logs what a helper process writes to its stderr, line by line.
func relayLines(logger *slog.Logger, r *os.File, pid int, msg string) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			logger.Warn(msg, "pid", pid, "stderr", line)
		}
	}
	io.Copy(io.Discard, r) // a line too long for the scanner: drain, so the helper never blocks
}
