package interp

import (
	"os"
	"strconv"
	"syscall"
	"time"
)

// threadAlive reports whether thread tid of this process still exists.
func threadAlive(tid int) bool {
	_, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid))
	return err == nil
}

// processCPU is the CPU time this process has used, all threads, for the
// benchmarks' cpu-ns/op: on a shared machine wall time per op says more
// about the neighbours than about the design.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
