package backend

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/pyhost"
)

// TestExtJudge: a file is probed once per version, however many
// interpreters ask at once; a changed file is probed again; a failed probe
// keeps the module out.
func TestExtJudge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mod.so")
	if err := os.WriteFile(path, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	var probes atomic.Int32
	kind := pyhost.ExtKind{SinglePhase: true}
	var fail error
	j := newExtJudge(false)
	j.probe = func(_ context.Context, module, p string) (pyhost.ExtKind, error) {
		probes.Add(1)
		time.Sleep(50 * time.Millisecond) // the others wait for this one
		return kind, fail
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if why := j.reason("mod", path); why != "single-phase init" {
				t.Errorf("reason %q", why)
			}
		}()
	}
	wg.Wait()
	if n := probes.Load(); n != 1 {
		t.Errorf("%d probes for one file, want 1", n)
	}
	kind = pyhost.ExtKind{MultiInterp: -1}
	if err := os.WriteFile(path, []byte("version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if why := j.reason("mod", path); why != "" || probes.Load() != 2 {
		t.Errorf("after a change: %q, %d probes", why, probes.Load())
	}
	fail = errors.New("init crashed")
	if err := os.WriteFile(path, []byte("version three"), 0o644); err != nil {
		t.Fatal(err)
	}
	if why := j.reason("mod", path); why != "it could not be checked: init crashed" {
		t.Errorf("failed probe: %q", why)
	}
	if why := j.reason("gone", filepath.Join(t.TempDir(), "none.so")); why != "" {
		t.Errorf("missing file: %q", why)
	}
}
