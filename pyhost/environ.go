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
// may read the environment meanwhile.
func SetEnviron(block []byte) error {
	if C.ph_set_environ((*C.char)(unsafe.Pointer(unsafe.SliceData(block))), C.size_t(len(block))) != 0 {
		return errors.New("setting the C environment: out of memory")
	}
	return nil
}
