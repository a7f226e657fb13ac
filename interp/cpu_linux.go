package interp

import (
	"syscall"
	"time"
	"unsafe"
)

// gettid returns the calling thread's id.
func gettid() int { return syscall.Gettid() }

// threadCPU returns the CPU time the thread tid of this process has used,
// or -1. Any thread may ask about any other: the kernel's per-thread CPU
// clock id is made from the thread id (MAKE_THREAD_CPUCLOCK(tid,
// CPUCLOCK_SCHED) in the kernel's posix-timers.h).
func threadCPU(tid int) time.Duration {
	if tid <= 0 {
		return -1
	}
	clock := int32(^uint32(tid)<<3 | 6)
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, uintptr(clock), uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return -1
	}
	return time.Duration(ts.Nano())
}
