//go:build cgo

package pyhost

// #include <stddef.h>
// #include <stdint.h>
// #include <string.h>
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/cgo"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// go_pyhost_ext_verdict asks the ExtGuard behind handle h whether the
// extension module name, from the file path, may load in the calling
// sub-interpreter. It returns 0 (it may), 1 (it may not: the reason is in
// out, NUL-terminated, cut to outn bytes) or -1 (no guard). C calls it on
// the interpreter's thread without the GIL.
//
//export go_pyhost_ext_verdict
func go_pyhost_ext_verdict(h C.uintptr_t, name *C.char, nn C.size_t, path *C.char, pn C.size_t, out *C.char, outn C.size_t) C.int {
	guard, ok := cgo.Handle(h).Value().(func(module, path string) string)
	if !ok || guard == nil {
		return -1
	}
	why := guard(C.GoStringN(name, C.int(nn)), C.GoStringN(path, C.int(pn)))
	if why == "" {
		return 0
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(outn))
	n := copy(b[:len(b)-1], why)
	b[n] = 0
	return 1
}

// ExtKind is what a probe learnt about an extension module's init.
type ExtKind struct {
	// SinglePhase: its init makes the module itself (PyModule_Create, no
	// PEP 489 slots), so it runs once per process and its C globals hold
	// the objects of whichever interpreter ran it.
	SinglePhase bool
	// MultiInterp is the Py_mod_multiple_interpreters slot of a multi-phase
	// module: 0 not supported, 1 supported, 2 per-interpreter GIL
	// supported, -1 none (CPython then takes it as supported).
	MultiInterp int
}

// Unsafe returns why a module of this kind must not load in a
// sub-interpreter ("" when it may); ownGIL is for interpreters with a GIL
// of their own, which CPython allows only level 2.
func (k ExtKind) Unsafe(ownGIL bool) string {
	switch {
	case k.SinglePhase:
		return "single-phase init"
	case k.MultiInterp == 0:
		return "it declares no support for sub-interpreters"
	case ownGIL && k.MultiInterp != 2:
		return "it declares no support for a per-interpreter GIL"
	}
	return ""
}

// ErrProbe means a probe process could not judge an extension module: its
// init failed or crashed, or the probe itself did not run.
var ErrProbe = errors.New("pyhost: the extension probe failed")

// probeTimeout bounds one probe (a process start, Python's and the init).
const probeTimeout = 20 * time.Second

// ProbeExtension learns how the extension module named module, from the
// file path, initialises, by loading it in a new process: this binary
// re-executed with WARMCGI_PROBE_EXT, which early.c handles before Go
// starts. The module's init runs there, never in the calling process. An
// error (matching ErrProbe when the probe ran) says the module could not
// be loaded there.
func ProbeExtension(ctx context.Context, module, path string) (ExtKind, error) {
	// /proc/self/exe reaches this binary even where the --user account
	// could not (a directory only root may search), as for the worker
	// processes of process mode.
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return ExtKind{}, fmt.Errorf("pyhost: probe: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), "WARMCGI_PROBE_EXT="+path, "WARMCGI_PROBE_NAME="+module,
		"WARMCGI_PROBE_PROGRAM="+programName())
	cmd.Dir = "/"
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	runErr := cmd.Run()
	const prefix = "\nWARMCGI-PROBE "
	i := bytes.LastIndex(out.Bytes(), []byte(prefix))
	if i < 0 {
		return ExtKind{}, fmt.Errorf("%w: %s: %v %s", ErrProbe, module, runErr, strings.TrimSpace(lastLine(errOut.String())))
	}
	answer := strings.TrimSpace(strings.SplitN(out.String()[i+len(prefix):], "\n", 2)[0])
	word, rest, _ := strings.Cut(answer, " ")
	switch word {
	case "single":
		return ExtKind{SinglePhase: true}, nil
	case "multi":
		n, err := strconv.Atoi(rest)
		if err != nil {
			return ExtKind{}, fmt.Errorf("%w: %s: bad answer %q", ErrProbe, module, answer)
		}
		return ExtKind{MultiInterp: n}, nil
	}
	return ExtKind{}, fmt.Errorf("%w: %s: %s", ErrProbe, module, rest)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
