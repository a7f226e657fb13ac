// Package pyhost embeds CPython and runs CGI scripts in its interpreters.
// It is the only package with import "C"; pyhost.h is the whole C API it
// uses, and no CPython type crosses into Go.
//
// One cgo call per request. Interp.Exec fills a C ph_request that lives in
// the Interp (borrowed views of the path, environment block, arguments and
// body, the stamp, the shebang flags, the body file and the streaming
// handles) and makes the one call ph_exec(ip, req, res). Go pins the
// request's memory for that call (runtime.Pinner); C copies what it keeps
// into Python objects before it returns and never stores a Go pointer. The
// ph_result C fills points into objects the interpreter owns, valid until
// its next ph_exec or ph_interp_free: Exec copies it into the caller's
// Result at once. A request allocates nothing on the Go side.
//
// One thread owns an Interp: the OS thread that called NewInterp. The
// caller locks its goroutine to that thread (runtime.LockOSThread) and
// never unlocks it while the Interp lives; Exec and Close run there, one
// at a time. The C layer records pthread_self() at creation and every
// entry point checks it: a call from another thread returns
// PH_EWRONGTHREAD (Go: ErrWrongThread) having done nothing. Only Park, an
// atomic store, may be called from any goroutine. CPython's threading
// module takes the thread that made an interpreter for its main thread and
// wants that thread to end it, which this rule gives. A main-mode Interp
// (InterpOptions.Main) is the creating thread's own thread state of the
// main interpreter, under the same rule.
//
// Return codes: every C function that can fail returns 0 (PH_OK) or a
// negative PH_E* code, with a message in a caller-owned buffer where one
// helps; Go maps them to the sentinel errors in types.go (ErrInit,
// ErrCreate, ErrLeftRunning, ErrWrongThread) or a *RuntimeError. What the
// script did is no error: it is in Result, and a request the runtime's
// watchdog ended sets Result.TimedOut, whose Result.Err matches ErrTimeout.
//
// Streaming: output a script flushes while it runs, and a body read while
// it arrives, cross back into Go through the exported go_pyhost_emit and
// go_pyhost_read, called on the interpreter's thread without the GIL. The
// request names them by a runtime/cgo.Handle made once per Interp, whose
// slot holds the running request's Stream function and body reader.
//
// Settings are data: NewInterp passes InterpOptions as a ph_options struct,
// and C sets them as the runtime's globals before the runtime's Python
// source runs in the interpreter's _warmcgi module (module.c).
//
// The GIL, where sub-interpreters share it (before 3.13): the C layer
// starts two threads of its own with the first sub-interpreter
// (gilswitch.c). The referee asks the interpreter whose thread has held the
// GIL for a switch interval to let go of it when a thread of another
// interpreter waits; CPython before 3.13 asks only the waiter's own. It is
// the one file that reads CPython's internal structures (the GIL's state
// and each interpreter's drop request), and it reads and writes only the
// interpreters C has made and not yet ended.
package pyhost
