package interp

import (
	"os"
	"strconv"
	"syscall"
)

// gettid returns the calling OS thread's id.
func gettid() int { return syscall.Gettid() }

// threadAlive reports whether thread tid of this process still exists.
func threadAlive(tid int) bool {
	_, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid))
	return err == nil
}
