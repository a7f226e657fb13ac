package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/warmcgi/warmcgi/cgienv"
)

// plainCGI runs a script as plain CGI: a child process with the request's
// environment, argv, body on stdin, started in the script's directory.
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
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// Its own process group, so a timeout or cancellation ends its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("plain CGI %s: %w", req.Script, ErrTimeout)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("plain CGI %s: %w", req.Script, ctx.Err())
	}
	out := &cgienv.Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
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
