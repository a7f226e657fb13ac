//go:build cgo

package pyhost

// #include <stddef.h>
// #include <stdint.h>
import "C"

import (
	"io"
	"runtime/cgo"
	"unsafe"

	"github.com/warmcgi/warmcgi/cgienv"
)

// go_pyhost_emit passes output a script flushed to its request's Stream
// function. C calls it on the interpreter's thread, without the GIL, with a
// buffer valid for the call only.
//
//export go_pyhost_emit
func go_pyhost_emit(h C.uintptr_t, p *C.char, n C.size_t) C.int {
	slot, ok := cgo.Handle(h).Value().(*streamSlot)
	if !ok || slot.fn == nil {
		return C.int(cgienv.StreamDecline)
	}
	return C.int(slot.fn(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))))
}

// go_pyhost_read reads up to n bytes of the running request's body into
// buf (C memory) as the script asks for them: the body is handed over
// while it arrives. It returns the count, 0 at the end, -1 on a read error
// (the client left, or sent less than it announced). C calls it without
// the GIL.
//
//export go_pyhost_read
func go_pyhost_read(h C.uintptr_t, buf *C.char, n C.size_t) C.long {
	slot, ok := cgo.Handle(h).Value().(*streamSlot)
	if !ok || slot.body == nil || n == 0 {
		return 0
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	for {
		k, err := slot.body.Read(b)
		if k > 0 {
			return C.long(k)
		}
		if err == io.EOF {
			return 0
		}
		if err != nil {
			return -1
		}
	}
}

// streamSlot holds an interpreter's current Stream function and, for a
// body read while it arrives, its reader.
type streamSlot struct {
	fn   func([]byte) cgienv.StreamAnswer
	body io.Reader
}
