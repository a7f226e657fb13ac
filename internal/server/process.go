package server

// What the server process sets up for itself before serving: its
// inherited descriptors, Go's GC target, its log.

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
)

// CloseInheritedOnExec marks every descriptor above 2 that the process
// inherited as close-on-exec. What warmcgi opens itself already is (Go
// and CPython both open that way); a descriptor its parent leaked (a
// shell's, a supervisor's) would otherwise reach every child a script
// starts, as none would under a server that closes them (COMPAT 89). The
// process keeps them open. Where /proc is missing nothing is changed.
func CloseInheritedOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd) // the directory's own descriptor, closed by now, just fails
		}
	}
}

// GCPercent is the Go garbage collector's target (GOGC) of a server
// started without GOGC in its environment. The server's own live heap is
// about 1 MiB, so at Go's default (100) a collection starts every 4 MiB
// allocated: 40 a second at 20k requests a second, each taking a quarter
// of the two cores' Go time while it marks. At 400 the heap may grow to
// about 16 MiB (beside interpreters of 10 MiB each) and collections are a
// quarter as frequent (README, Performance).
const GCPercent = 400

// TuneGC sets GCPercent unless GOGC is set.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}

// NewLogger is the server log: slog text or JSON at the --log-level.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// DefaultPycacheDir is where bytecode of installed modules is cached by
// default: out of the script directories (a cgi-bin should never gain
// __pycache__ directories the server wrote); "" when there is no cache
// directory.
func DefaultPycacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "warmcgi", "pycache")
}
