package cgienv

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScriptCacheBounds: the cache forgets entries after their interval,
// never holds more than scriptCacheSize paths (a client can make endless
// PATH_INFOs), and does not keep very long paths.
func TestScriptCacheBounds(t *testing.T) {
	c := newScriptCache(time.Hour)
	s := Script{Filename: "/srv/x.py", Name: "/cgi-bin/x.py"}
	for i := range scriptCacheSize + 10 {
		c.put("/cgi-bin/x.py/"+strconv.Itoa(i), s)
		if len(c.m) > scriptCacheSize {
			t.Fatalf("after %d paths the cache holds %d, want at most %d", i+1, len(c.m), scriptCacheSize)
		}
	}
	last := "/cgi-bin/x.py/" + strconv.Itoa(scriptCacheSize+9)
	if got, _, ok := c.get(last); !ok || got != s {
		t.Errorf("get(%q) = %+v, %v; want the script just put", last, got, ok)
	}
	long := "/cgi-bin/x.py/" + strings.Repeat("a", scriptCacheKey)
	c.put(long, s)
	if _, _, ok := c.get(long); ok {
		t.Errorf("a path of %d bytes was kept", len(long))
	}

	short := newScriptCache(time.Nanosecond)
	short.put("/cgi-bin/x.py", s)
	time.Sleep(time.Millisecond)
	if _, _, ok := short.get("/cgi-bin/x.py"); ok {
		t.Error("an entry older than the interval was returned")
	}
}

// BenchmarkResolve: a request path resolved by a walk of the file system
// (StatInterval 0), from memory (StatInterval), and from memory with the
// one stat that ChangesPending (an inotify watch) adds.
func BenchmarkResolve(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "x.py"), []byte("print()\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		every   time.Duration
		pending func() bool
	}{
		{"walk", 0, nil},
		{"cached", time.Hour, nil},
		{"watched", time.Hour, func() bool { return false }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := &Handler{Root: dir, StatInterval: tc.every, ChangesPending: tc.pending}
			for b.Loop() {
				if _, err := h.Resolve("/cgi-bin/app/x.py/more"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestScriptCacheWatched: with ChangesPending (an inotify watch), a
// remembered script is checked with a stat, so a removal, chmod or
// replacement shows at the next request with no event read yet; an
// Invalidate of a directory forgets what lies below it; a walk that raced
// an invalidation is not remembered; and while changes are pending the
// cache is not used.
func TestScriptCacheWatched(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "app")
	x := filepath.Join(sub, "x.py")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		t.Helper()
		tmp := x + ".new"
		if err := os.WriteFile(tmp, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, x); err != nil {
			t.Fatal(err)
		}
	}
	write("one\n")
	var pending bool
	h := &Handler{Root: dir, StatInterval: time.Hour, ChangesPending: func() bool { return pending }}
	resolve := func() (Script, error) { return h.Resolve("/cgi-bin/app/x.py") }
	first, err := resolve()
	if err != nil {
		t.Fatal(err)
	}
	write("two, longer\n")
	if s, err := resolve(); err != nil || s.Stamp == first.Stamp {
		t.Errorf("after a replacement by rename: %+v, %v; want the new file's stamp", s.Stamp, err)
	}
	if err := os.Chmod(x, 0o644); err != nil { // no x bit: not even root may execute it
		t.Fatal(err)
	}
	if _, err := resolve(); !errors.Is(err, ErrNotExecutable) {
		t.Errorf("after chmod -x: %v, want ErrNotExecutable", err)
	}
	if err := os.Chmod(x, 0o757); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve(); !errors.Is(err, ErrWritable) {
		t.Errorf("after chmod o+w: %v, want ErrWritable", err)
	}
	if err := os.Chmod(x, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(x); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve(); !errors.Is(err, ErrNotFound) {
		t.Errorf("after the removal: %v, want ErrNotFound", err)
	}
	write("three\n")
	if _, err := resolve(); err != nil {
		t.Fatal(err)
	}

	st := h.state()
	if _, _, ok := st.scripts.get("/cgi-bin/app/x.py"); !ok {
		t.Fatal("the script was not remembered")
	}
	h.Invalidate(sub)
	if _, _, ok := st.scripts.get("/cgi-bin/app/x.py"); ok {
		t.Error("Invalidate of its directory left the script remembered")
	}
	gen := st.scripts.generation()
	h.Invalidate(filepath.Join(dir, "other.py"))
	st.scripts.putIf("/cgi-bin/app/x.py", first, found{}, gen)
	if _, _, ok := st.scripts.get("/cgi-bin/app/x.py"); ok {
		t.Error("a walk older than an invalidation was remembered")
	}
	pending = true
	if _, err := resolve(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := st.scripts.get("/cgi-bin/app/x.py"); ok {
		t.Error("a walk made while changes were pending was remembered")
	}
}
