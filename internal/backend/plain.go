package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/procmode"
)

// plainCGI runs a script as plain CGI: a child process with the request's
// environment, argv, body on stdin, started in the script's directory. Its
// output reaches the client as it comes, as from Apache (procmode.Collect:
// within 20 ms of reaching the pipe), and the response ends when every
// holder of its stdout has closed it.
type plainCGI struct {
	limit timeLimit
}

func (e plainCGI) Run(ctx context.Context, req *cgienv.Request) (*cgienv.Output, error) {
	ctx, cancel := e.limit.context(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, req.Script, req.Args...)
	cmd.Env = req.Env
	cmd.Dir = filepath.Dir(req.Script)
	cmd.Stdin = bytes.NewReader(req.Stdin)
	if req.StdinFile != nil {
		cmd.Stdin = req.StdinFile // the child reads the spooled body directly
	}
	if req.StdinStream != nil {
		cmd.Stdin = req.StdinStream // copied to the child as it arrives
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	defer outR.Close()
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW
	// Its own process group, so a timeout or cancellation ends its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err = cmd.Start()
	outW.Close() // the child holds its own copies
	errW.Close()
	var stdout, stderr []byte
	if err == nil {
		stdout, stderr, _ = procmode.Collect(outR, errR, streamTo(req.Stream))
		err = cmd.Wait()
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("plain CGI %s: %w", req.Script, ErrTimeout)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("plain CGI %s: %w", req.Script, ctx.Err())
	}
	out := &cgienv.Output{Stdout: stdout, Stderr: stderr}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		out.ExitCode = ee.ExitCode()
		out.Failure = ee.Error()
	default:
		// Apache logs the failed exec and answers 500: no output.
		out.ExitCode = 127
		out.Failure = err.Error()
		out.Stderr = append(out.Stderr, ("exec of " + req.Script + " failed: " + err.Error() + "\n")...)
	}
	return out, nil
}
