//go:build cgo

package pyhost

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// onThread runs fn on a fresh goroutine locked to its own OS thread, as
// interp workers do, with an interpreter created there.
func onThread(t *testing.T, fn func(ip *Interp)) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ip, err := NewInterp(OwnGILSupported())
		if err != nil {
			t.Error(err)
			return
		}
		defer ip.Close()
		fn(ip)
	}()
	<-done
}

func stampOf(t *testing.T, path string) [4]int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return [4]int64{st.Mtim.Nano(), st.Size, int64(st.Ino), int64(st.Dev)}
}

func envBlock(kv ...string) []byte {
	var b []byte
	for _, s := range kv {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecHello(t *testing.T) {
	path := script(t, "hello.py")
	onThread(t, func(ip *Interp) {
		var res Result
		for i, q := range []string{"a=1", "b=2", "c"} {
			req := &Request{Path: path, Stamp: stampOf(t, path), Env: envBlock("QUERY_STRING=" + q), Args: envBlock("w" + q)}
			if err := ip.Exec(req, &res); err != nil {
				t.Fatal(err)
			}
			want := "Content-Type: text/plain\n\nhello " + q + " ['w" + q + "'] __main__\n"
			if string(res.Stdout) != want {
				t.Errorf("request %d: stdout %q, want %q (stderr %q)", i, res.Stdout, want, res.Stderr)
			}
		}
	})
}

func TestMain(m *testing.M) {
	if err := Init(Config{}); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	_ = strings.TrimSpace
	os.Exit(m.Run())
}
