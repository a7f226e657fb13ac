package main

import (
	"os"
	"strconv"
	"syscall"
)

// closeInheritedOnExec marks every descriptor above 2 that the process
// inherited as close-on-exec. What warmcgi opens itself already is (Go
// and CPython both open that way); a descriptor its parent leaked (a
// shell's, a supervisor's) would otherwise reach every child a script
// starts, as none would under a server that closes them (COMPAT 89). The
// process keeps them open. Where /proc is missing nothing is changed.
func closeInheritedOnExec() {
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
