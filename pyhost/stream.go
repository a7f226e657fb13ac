//go:build cgo

package pyhost

// #include <stddef.h>
// #include <stdint.h>
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// go_pyhost_emit passes output a script flushed to its request's Stream
// function. C calls it on the interpreter's thread, without the GIL, with a
// buffer valid for the call only.
//
//export go_pyhost_emit
func go_pyhost_emit(h C.uintptr_t, p *C.char, n C.size_t) C.int {
	slot, ok := cgo.Handle(h).Value().(*streamSlot)
	if !ok || slot.fn == nil {
		return C.int(StreamDecline)
	}
	return C.int(slot.fn(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))))
}

// streamSlot holds an interpreter's current Stream function.
type streamSlot struct{ fn func([]byte) StreamAnswer }
