//go:build cgo

package pyhost

/*
#include "pyhost.h"
*/
import "C"

import (
	"errors"
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
