package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/procmode"
)

// workerCmd is `warmcgi worker CONFIG`, the hidden subcommand the server
// starts once per process-mode worker (internal/procmode runs it, with
// internal/backend's interpreter). It returns only when the server closes
// the socket or the worker must not go on.
func workerCmd(args []string, stderr io.Writer) int {
	err := backend.RunWorker(args)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, procmode.ErrUsage):
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	return exitStartup
}
