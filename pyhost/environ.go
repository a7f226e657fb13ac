//go:build cgo

package pyhost

/*
#include "pyhost.h"
*/
import "C"

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// SetEnviron makes block ("NAME=value\x00" entries, as Request.Env) the
// process's whole C environment, as execve makes a new program's: what
// getenv, C extensions and child processes see. A process-mode worker
// (RealProcess) calls it before each Exec; no other thread of the process
// may read the environment meanwhile. The entry strings are never freed
// (C code may keep what getenv returned); EnvironKept says how much they
// take.
func SetEnviron(block []byte) error {
	if C.ph_set_environ((*C.char)(unsafe.Pointer(unsafe.SliceData(block))), C.size_t(len(block))) != 0 {
		return errors.New("setting the C environment: out of memory")
	}
	return nil
}

// EnvironKept is how many bytes of distinct environment entries
// SetEnviron has kept over the process's life.
func EnvironKept() int64 { return int64(C.ph_environ_kept()) }

// DropCStdio drops what C's stdout and stderr still hold after a request
// (the runtime flushed them as the script ended: only what a failed flush
// left) and says whether there was any.
func DropCStdio() bool { return C.ph_drop_cstdio() != 0 }

// TrimMemory gives back to the kernel the pages malloc holds free (see
// ph_trim_memory). Measured: a process-mode worker that served hello.py
// held 15 MiB of anonymous memory, 10 MiB after a trim; a subinterp
// server with 8 workers after warm.py 99.5 MiB, 66.7 MiB after.
func TrimMemory() { C.ph_trim_memory() }

// idleTrim is how long a process must have run no request before
// TrimWhenIdle trims: a trim while requests run would make the next ones
// fault the pages in again, and page faults are dear on some VMs (a
// benchmark run that trimmed every 250 ms under load had slower hgweb
// pages; side by side afterwards the difference was within noise).
const idleTrim = time.Second

var (
	requests atomic.Uint64 // requests run, as TrimWhenIdle counts them
	idleOnce sync.Once
)

// TrimWhenIdle, after each request, counts it; a goroutine it starts once
// trims malloc's free pages when a second has passed with no request
// since one ran (what Python freed otherwise stays in malloc's arenas,
// counted against the process for its life).
func TrimWhenIdle() {
	requests.Add(1)
	idleOnce.Do(func() {
		go func() {
			seen, trimmed := requests.Load(), uint64(0)
			for range time.Tick(idleTrim) {
				n := requests.Load()
				if n == seen && n != trimmed {
					TrimMemory()
					trimmed = n
				}
				seen = n
			}
		}()
	})
}
