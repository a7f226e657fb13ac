package server

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

// TestScriptWatch: the watch covers directories made after it started
// (and those inside them), follows a renamed directory to its new name,
// and a change the resolution cache cannot see with its stat (a
// directory made world-writable) reaches the handler through its event.
func TestScriptWatch(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	h := &cgienv.Handler{Root: dir, StatInterval: time.Hour}
	s := &Server{cgi: h, log: slog.New(slog.NewTextHandler(&logs, nil))}
	sw := s.watchScripts()
	defer s.close()
	if sw == nil || h.ChangesPending == nil {
		t.Fatalf("no watch started: %s", logs.String())
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5 s; watching %v", what, sw.w.WatchList())
			}
		}
	}
	watched := func(p string) func() bool {
		return func() bool { return slices.Contains(sw.w.WatchList(), filepath.Join(dir, p)) }
	}
	// mkdir -p: the inner directory may exist before the outer is watched.
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	eventually("a new directory and the one inside it watched", func() bool { return watched("a")() && watched("a/b")() })
	script := filepath.Join(dir, "a", "b", "x.py")
	if err := os.WriteFile(script, []byte("print()\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	resolve := func(p string) error { _, err := h.Resolve("/cgi-bin/" + p); return err }
	eventually("the new script resolves", func() bool { return resolve("a/b/x.py") == nil })
	if err := os.Chmod(filepath.Join(dir, "a"), 0o757); err != nil {
		t.Fatal(err)
	}
	eventually("a directory made world-writable seen", func() bool { return errors.Is(resolve("a/b/x.py"), cgienv.ErrWritable) })
	if err := os.Chmod(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	eventually("and made safe again", func() bool { return resolve("a/b/x.py") == nil })
	if err := os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	eventually("the renamed directory watched under its new name", func() bool {
		return watched("c")() && watched("c/b")() && !watched("a")() && !watched("a/b")()
	})
	if err := resolve("c/b/x.py"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "c", "b"), 0o757); err != nil {
		t.Fatal(err)
	}
	eventually("a change below the renamed directory seen", func() bool { return errors.Is(resolve("c/b/x.py"), cgienv.ErrWritable) })
	if !strings.Contains(logs.String(), "watching DIR with inotify") {
		t.Errorf("the log does not say DIR is watched: %s", logs.String())
	}
}
