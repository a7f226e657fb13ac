package backend

import (
	"context"
	"sync"
	"syscall"

	"github.com/warmcgi/warmcgi/pyhost"
)

// extJudge decides, for the sub-interpreters of --isolation auto, whether
// an extension module may load in them (pyhost.InterpOptions.ExtGuard).
// Each file is judged once per version (path and stamp) by a probe in a
// separate process (pyhost.ProbeExtension); interpreters asking about a
// file being probed wait for that one probe.
type extJudge struct {
	ownGIL bool
	probe  func(ctx context.Context, module, path string) (pyhost.ExtKind, error)
	mu     sync.Mutex
	seen   map[string]*extVerdict // by path
}

type extVerdict struct {
	stamp  [4]int64
	done   chan struct{} // closed once reason is set
	reason string        // "" safe
}

func newExtJudge(ownGIL bool) *extJudge {
	return &extJudge{ownGIL: ownGIL, probe: pyhost.ProbeExtension, seen: make(map[string]*extVerdict)}
}

// foreignCall are the extension modules that let a script call C and
// touch memory directly (ctypes, cffi): safe in several interpreters or
// not, a wrong pointer kills the process it runs in, so auto keeps them out
// of the server's (a worker process contains the crash, as process mode
// does for every script).
var foreignCall = map[string]bool{"_ctypes": true, "_cffi_backend": true}

// reason is the ExtGuard: why module, from path, must not load in a
// sub-interpreter ("" when it may).
func (j *extJudge) reason(module, path string) string {
	if foreignCall[module] {
		return "it calls C directly: a wrong pointer would crash the server"
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return "" // CPython reports the missing file itself
	}
	stamp := [4]int64{st.Mtim.Nano(), st.Size, int64(st.Ino), int64(st.Dev)}
	j.mu.Lock()
	v := j.seen[path]
	if v == nil || v.stamp != stamp {
		v = &extVerdict{stamp: stamp, done: make(chan struct{})}
		j.seen[path] = v
		j.mu.Unlock()
		v.reason = j.judge(module, path)
		close(v.done)
		return v.reason
	}
	j.mu.Unlock()
	<-v.done
	return v.reason
}

// judge runs the probe. A module that cannot be loaded there (its init
// failed or crashed) is kept out too: the mode it is sent to reports the
// real error, and a crash costs only a request there.
func (j *extJudge) judge(module, path string) string {
	kind, err := j.probe(context.Background(), module, path)
	if err != nil {
		return "it could not be checked: " + err.Error()
	}
	return kind.Unsafe(j.ownGIL)
}
