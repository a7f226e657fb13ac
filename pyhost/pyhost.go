//go:build cgo

package pyhost

/*
#include <stdlib.h>
#include "pyhost.h"
*/
import "C"

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// pylibFiles are the modules warmcgi brings for Pythons that lack them
// (cgi and cgitb were removed in 3.13); the runtime offers them only
// when the interpreter's own library has no module of that name.
//
//go:embed pylib/cgi.py pylib/cgitb.py
var pylibFiles embed.FS

var pylibModules = []string{"cgi", "cgitb"}

var (
	initOnce sync.Once
	initErr  error
	// createMu serialises interpreter creation: own-GIL creation releases
	// the main GIL part way through, and start-up is not a hot path.
	createMu sync.Mutex
	// mainSettings are the settings of the runtime installed in the main
	// interpreter by the first Main interp (nil before); guarded by
	// createMu.
	mainSettings *settings
)

// Init initialises the embedded Python once per process. It may be called
// from any goroutine and more than once; later calls return the first
// result.
func Init(cfg Config) error {
	initOnce.Do(func() { initErr = initPython(cfg) })
	return initErr
}

func initPython(cfg Config) error {
	var prog, cache *C.char
	if p := programName(); p != "" {
		prog = C.CString(p)
		defer C.free(unsafe.Pointer(prog))
	}
	if cfg.PycachePrefix != "" {
		if err := os.MkdirAll(cfg.PycachePrefix, 0o700); err != nil {
			return fmt.Errorf("pyhost: bytecode cache: %w", err)
		}
		cache = C.CString(cfg.PycachePrefix)
		defer C.free(unsafe.Pointer(cache))
	}
	if cfg.MaxMemory > 0 {
		C.ph_limit_memory(C.size_t(cfg.MaxMemory))
	}
	var buf [512]C.char
	if C.ph_init(prog, cache, &buf[0], C.size_t(len(buf))) != C.PH_OK {
		return fmt.Errorf("%w: %s", ErrInit, C.GoString(&buf[0]))
	}
	return nil
}

var minorRE = regexp.MustCompile(`^(\d+)\.(\d+)`)

// staticProgram is the python3.X executable of the static libpython this
// binary was linked with (pyhost/pylink.sh sets it with -ldflags -X).
var staticProgram string

// programName finds the python executable that belongs to the libpython
// this binary loaded, so that Python finds its own standard library and
// not that of another python3 on PATH. A binary that holds its libpython
// (pylink.sh) was told it when built.
func programName() string {
	if Static() {
		return staticProgram
	}
	lib := C.ph_library_path()
	if lib == nil {
		return ""
	}
	m := minorRE.FindStringSubmatch(Version())
	if m == nil {
		return ""
	}
	ver := m[1] + "." + m[2]
	dir := filepath.Dir(C.GoString(lib))
	for {
		if _, err := os.Stat(filepath.Join(dir, "lib", "python"+ver, "os.py")); err == nil {
			exe := filepath.Join(dir, "bin", "python"+ver)
			if _, err := os.Stat(exe); err == nil {
				return exe
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// LibraryPath returns the file name of the loaded libpython, or "" (also
// when this binary holds it: Static).
func LibraryPath() string {
	if Static() {
		return ""
	}
	if lib := C.ph_library_path(); lib != nil {
		return C.GoString(lib)
	}
	return ""
}

// Origin names where the linked Python lives: the shared libpython's file,
// or for a binary that holds its libpython the python3.X executable it
// came from (staticProgram); "" when unknown. Its standard library sits
// beside either.
func Origin() string {
	if Static() {
		return staticProgram
	}
	return LibraryPath()
}

// Static reports whether libpython is linked into this binary
// (pyhost/pylink.sh) rather than loaded from a shared library.
func Static() bool { return C.ph_python_static() != 0 }

// Version returns the version of the linked Python (sys.version).
func Version() string { return C.GoString(C.ph_version()) }

// OwnGILSupported reports whether this build can create interpreters with
// their own GIL (Python 3.13 and later).
func OwnGILSupported() bool { return C.ph_own_gil() != 0 }

// DictVersions reports whether the linked Python has dict versions (PEP
// 509, up to 3.13), through which the module state a request starts from
// is watched on 3.11.
func DictVersions() bool { return C.ph_dict_versions() != 0 }

// DictWatch reports whether it is watched through dict watchers (3.12+):
// a request's cost follows the dicts it wrote, not the modules loaded. An
// interpreter with no watcher free looks at every watched dict instead
// (its version up to 3.13; 3.14 has none and compares it with its baseline).
func DictWatch() bool { return C.ph_dict_watch() != 0 }

// Interp is one sub-interpreter (or, with InterpOptions.Main, a thread
// state of the main interpreter). The OS thread that calls NewInterp owns
// it: the caller locks its goroutine to its thread (runtime.LockOSThread,
// never undone while the Interp lives) and calls Exec and Close from that
// goroutine only, one at a time. Another thread gets ErrWrongThread. Park
// alone may be called from any goroutine.
type Interp struct {
	p *C.ph_interp
	// req and res are the C views of the running request and its result,
	// refilled by each Exec; pin holds the request's Go memory for the
	// call.
	req C.ph_request
	res C.ph_result
	pin runtime.Pinner
	// inUse is set while Exec or Close runs, so that a call from another
	// goroutine at the same time fails before it touches req or res.
	inUse atomic.Bool
	chdir C.int
	// stream is the current request's Stream function, reached from C
	// through streamHandle, made once per interpreter so that a request
	// allocates no handle.
	stream       streamSlot
	streamHandle cgo.Handle
	// guardHandle reaches InterpOptions.ExtGuard from C (0: none).
	guardHandle cgo.Handle
}

// InterpOptions choose how an interpreter behaves.
type InterpOptions struct {
	// OwnGIL gives the interpreter its own GIL (needs OwnGILSupported).
	OwnGIL bool
	// Chdir makes every request start in its script's directory. Each
	// thread that runs a request is first given a working directory of
	// its own (unshare(CLONE_FS)), and goes back to the server's after
	// the request; where the kernel refuses that (a seccomp profile),
	// requests run in the server's directory instead.
	Chdir bool
	// KeepModules keeps helper modules imported from the scripts' own
	// trees loaded between requests (--modules keep); by default they
	// are dropped after each request, as a fresh CGI process would.
	KeepModules bool
	// KeepGlobals re-runs a script in the globals its previous run left
	// (--globals keep); by default each request gets fresh globals.
	KeepGlobals bool
	// Timeout is how long a request may run before the script gets an
	// exception injected (it fires only while Python code runs); 0: none.
	Timeout time.Duration
	// CGIEscape defines cgi.escape as it was before Python 3.8.
	CGIEscape bool
	// Preload names modules every interpreter imports when it is made
	// (COMPAT 83), so their import cost is paid at start-up, not by the
	// first requests; a module that fails to import fails the start.
	Preload []string
	// Main runs the requests in the main interpreter instead of a
	// sub-interpreter of their own (--isolation main), for C extensions
	// that refuse sub-interpreters (numpy and friends). All Main interps
	// of the process share the main interpreter and one runtime in it, so
	// they run one request at a time: Exec waits while another Main
	// interp's request runs (use one Main worker; for parallel requests
	// use process mode). Sub-interpreters keep running alongside. The
	// first Main interp's options hold for the process: a later one with
	// other options is refused. OwnGIL is ignored (the main interpreter
	// has its own GIL where sub-interpreters do, and shares it where they
	// share theirs).
	Main bool
	// RealProcess is for an interpreter that owns its whole process (a
	// --isolation process worker): the script gets the real fds 0, 1 and
	// 2, the real C environment, os.fork, os.exec*, os._exit and
	// os.kill, instead of the per-request emulation a shared process
	// needs. The caller points fds 0-2 at the request's pipes and makes
	// Env the C environment (SetEnviron) before Exec; Body and BodyFile
	// are then ignored.
	RealProcess bool
	// ExtGuard, when set, judges every extension module a script of this
	// sub-interpreter imports (the first time in the interpreter), before
	// its init runs: a reason not "" refuses it with an ImportError and
	// the request's Result.NeedsMode says so. It is called without the
	// GIL, on the interpreter's thread, and may block (a probe process).
	// Ignored with Main.
	ExtGuard func(module, path string) (reason string)
}

// settings is what of InterpOptions configures the runtime, comparable:
// the main interpreter's runtime holds the first Main interp's settings,
// and a later Main interp must ask for the same. OwnGIL is not one.
type settings struct {
	chdir, keepModules, keepGlobals, cgiEscape, realProcess bool
	timeout                                                 time.Duration
	preload                                                 string // "name\x00" repeated
}

func (o InterpOptions) settings() settings {
	s := settings{chdir: o.Chdir, keepModules: o.KeepModules, keepGlobals: o.KeepGlobals,
		cgiEscape: o.CGIEscape, realProcess: o.RealProcess, timeout: o.Timeout}
	for _, m := range o.Preload {
		s.preload += m + "\x00"
	}
	return s
}

// pylibBlock is "name\x00source\x00" for each module in pylibModules.
func pylibBlock() []byte {
	var b []byte
	for _, name := range pylibModules {
		src, err := pylibFiles.ReadFile("pylib/" + name + ".py")
		if err != nil {
			continue
		}
		b = append(append(append(append(b, name...), 0), src...), 0)
	}
	return b
}

// NewInterp creates a sub-interpreter and installs the warmcgi runtime in
// it; with opts.Main it uses the main interpreter instead, installing the
// runtime there the first time. The calling goroutine must be locked to
// its OS thread (runtime.LockOSThread) for the Interp's whole life: that
// thread owns it, runs its requests and ends it (CPython's threading
// module takes the thread that made an interpreter for its main thread
// and wants it to be the one that ends it).
func NewInterp(opts InterpOptions) (*Interp, error) {
	if err := Init(Config{}); err != nil {
		return nil, err
	}
	var guard cgo.Handle
	if opts.ExtGuard != nil && !opts.Main {
		guard = cgo.NewHandle(opts.ExtGuard)
	}
	p, err := newInterp(opts, guard)
	if err != nil {
		if guard != 0 {
			guard.Delete()
		}
		return nil, err
	}
	ip := &Interp{p: p, guardHandle: guard}
	if opts.Chdir {
		ip.chdir = 1
	}
	ip.streamHandle = cgo.NewHandle(&ip.stream)
	return ip, nil
}

func newInterp(opts InterpOptions, guard cgo.Handle) (*C.ph_interp, error) {
	set := opts.settings()
	o := C.ph_options{
		runtime_src:  C.CString(runtimeSource),
		own_gil:      cbool(opts.OwnGIL),
		chdir:        cbool(set.chdir),
		keep_modules: cbool(set.keepModules),
		keep_globals: cbool(set.keepGlobals),
		cgi_escape:   cbool(set.cgiEscape),
		real_process: cbool(set.realProcess),
		timeout:      C.double(set.timeout.Seconds()),
		preload:      cblock([]byte(set.preload)),
		pylib:        cblock(pylibBlock()),
		ext_guard:    C.uintptr_t(guard),
	}
	defer C.free(unsafe.Pointer(o.runtime_src))
	defer C.free(unsafe.Pointer(o.preload.p))
	defer C.free(unsafe.Pointer(o.pylib.p))
	var buf [1024]C.char
	createMu.Lock()
	defer createMu.Unlock()
	var p *C.ph_interp
	st := C.int(C.PH_OK)
	switch {
	case !opts.Main:
		st = C.ph_interp_new(&o, &p, &buf[0], C.size_t(len(buf)))
	case mainSettings != nil && *mainSettings != set:
		return nil, fmt.Errorf("%w: the main interpreter already runs with other options (every main-mode worker needs the same ones)", ErrCreate)
	default:
		st = C.ph_main_new(&o, &p, &buf[0], C.size_t(len(buf)))
		if st == C.PH_OK && mainSettings == nil {
			mainSettings = &set
		}
	}
	if st != C.PH_OK {
		return nil, fmt.Errorf("%w: %s", ErrCreate, C.GoString(&buf[0]))
	}
	return p, nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// cblock copies b into C memory (freed by the caller), for a creation.
func cblock(b []byte) C.ph_bytes {
	if len(b) == 0 {
		return C.ph_bytes{}
	}
	return C.ph_bytes{p: (*C.char)(C.CBytes(b)), n: C.size_t(len(b))}
}

// Exec runs one request and fills res. It returns an error only when the
// request could not be run (closed, called on a thread other than the
// owner's, a runtime failure); whatever the script did is reported in res.
func (ip *Interp) Exec(req *Request, res *Result) error {
	if !ip.inUse.CompareAndSwap(false, true) {
		return ErrWrongThread // another goroutine is in Exec or Close
	}
	defer ip.inUse.Store(false)
	if ip.p == nil {
		return ErrClosed
	}
	c := &ip.req
	c.path = ip.view(unsafe.Pointer(unsafe.StringData(req.Path)), len(req.Path))
	c.stamp = C.ph_stamp{mtime_ns: C.int64_t(req.Stamp[0]), size: C.int64_t(req.Stamp[1]),
		inode: C.uint64_t(req.Stamp[2]), dev: C.uint64_t(req.Stamp[3])}
	c.unbuffered = 0
	if req.Unbuffered {
		c.unbuffered = 1
	}
	c.optimize = C.int(req.Optimize)
	c.env = ip.view(unsafe.Pointer(unsafe.SliceData(req.Env)), len(req.Env))
	c.args = ip.view(unsafe.Pointer(unsafe.SliceData(req.Args)), len(req.Args))
	c.body = ip.view(unsafe.Pointer(unsafe.SliceData(req.Body)), len(req.Body))
	c.body_fd = -1
	if req.BodyFile != nil {
		c.body_fd = C.int(req.BodyFile.Fd())
	}
	c.stream, c.reader = 0, 0
	if req.Stream != nil {
		ip.stream.fn = req.Stream
		c.stream = C.uintptr_t(ip.streamHandle)
	}
	if req.BodyReader != nil {
		ip.stream.body = req.BodyReader
		c.reader = C.uintptr_t(ip.streamHandle)
	}
	c.chdir = ip.chdir
	st := C.ph_exec(ip.p, &ip.req, &ip.res) // &ip.req, not c: cgo then checks the field alone
	ip.pin.Unpin()
	*c = C.ph_request{}
	ip.stream.fn = nil
	ip.stream.body = nil
	runtime.KeepAlive(req)
	r := &ip.res
	switch st {
	case C.PH_OK:
	case C.PH_EWRONGTHREAD:
		return ErrWrongThread
	default:
		return &RuntimeError{Msg: C.GoStringN(r.failure, C.int(r.failure_n))}
	}
	res.Stdout = append(res.Stdout[:0], unsafe.Slice((*byte)(unsafe.Pointer(r.out)), int(r.out_n))...)
	res.Stderr = append(res.Stderr[:0], unsafe.Slice((*byte)(unsafe.Pointer(r.err)), int(r.err_n))...)
	res.Late = append(res.Late[:0], unsafe.Slice((*byte)(unsafe.Pointer(r.late)), int(r.late_n))...)
	res.ExitCode = int(r.exit_code)
	res.Compiled = Compile(r.compiled)
	res.ThreadsLeft = r.threads_left != 0
	res.Failure = ""
	if r.failure_n > 0 {
		res.Failure = C.GoStringN(r.failure, C.int(r.failure_n))
	}
	res.TimedOut = r.timed_out != 0
	res.NeedsMode = ""
	if r.needs_mode_n > 0 {
		res.NeedsMode = C.GoStringN(r.needs_mode, C.int(r.needs_mode_n))
	}
	return nil
}

// view makes a ph_bytes of n bytes at p, pinned until the request ends:
// C reads the request's memory through ip.req, which Go owns.
func (ip *Interp) view(p unsafe.Pointer, n int) C.ph_bytes {
	if n == 0 {
		return C.ph_bytes{}
	}
	ip.pin.Pin(p)
	return C.ph_bytes{p: (*C.char)(p), n: C.size_t(n)}
}

// Park tells the interpreter that the server has given up on the request
// it runs and will not use it again: the script's thread is then parked
// for good, asleep, within a second (runtime/signals.py, _Parked). It may be
// called from any goroutine while Exec runs, never after Close.
func (ip *Interp) Park() { C.ph_park(ip.p) }

// Close ends the interpreter. It must be called on the owner's thread,
// with no Exec running (else ErrWrongThread, and the Interp stays open).
// It returns ErrLeftRunning when a thread the interpreter started still
// ran: the interpreter is then left as it is (and is closed all the same).
func (ip *Interp) Close() error {
	if !ip.inUse.CompareAndSwap(false, true) {
		return ErrWrongThread
	}
	defer ip.inUse.Store(false)
	if ip.p == nil {
		return nil
	}
	switch C.ph_interp_free(ip.p) {
	case C.PH_EWRONGTHREAD:
		return ErrWrongThread
	case C.PH_ELEFT:
		ip.close()
		return ErrLeftRunning
	}
	ip.close()
	return nil
}

func (ip *Interp) close() {
	ip.streamHandle.Delete()
	if ip.guardHandle != 0 {
		ip.guardHandle.Delete()
	}
	ip.p = nil
}
