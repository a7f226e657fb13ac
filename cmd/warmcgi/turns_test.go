package main

import (
	"net/http"
	"os"
	"testing"
	"time"
)

// TestLongComputeLeavesOthersAnswered runs a script that computes in pure
// Python, never blocking, while other requests come: each is answered
// while it still computes, as each CGI process gets its share of the CPU.
// Where the sub-interpreters share one GIL (before 3.13), a queued request
// goes to an idle worker after its turn (interp's spillTurn), and the
// computing thread hands the GIL over every switch interval (pyhost's
// gilswitch.c); without either, every other request waited for the
// computation to end.
func TestLongComputeLeavesOthersAnswered(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real server; skipped with -short")
	}
	dir := testdataCGIBin(t)
	for _, mode := range []string{"subinterp", "auto"} {
		t.Run(mode, func(t *testing.T) {
			f, err := os.CreateTemp("", "warmcgi-turns-")
			if err != nil {
				t.Fatal(err)
			}
			flag := f.Name()
			t.Cleanup(func() { os.Remove(flag) })
			// Written by the test, read and marked by the script, which may
			// run as another user (--user).
			if _, err := f.Write([]byte{0, 0}); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := os.Chmod(flag, 0o666); err != nil {
				t.Fatal(err)
			}
			base, logs := startWarmcgi(t, dir, "--isolation", mode, "-w", "3", "--timeout", "120s")
			client := &http.Client{Timeout: 20 * time.Second}
			type answer struct {
				code int
				body string
				err  error
			}
			computed := make(chan answer, 1)
			go func() {
				code, body, err := fetch(t, &http.Client{Timeout: 90 * time.Second}, base+"cgi-bin/turns/compute.py?"+flag)
				computed <- answer{code, body, err}
			}()
			// In place: the script maps the file, and reading past its end
			// (a truncated file) is SIGBUS.
			release := func() {
				f, err := os.OpenFile(flag, os.O_WRONLY, 0)
				if err == nil {
					_, err = f.WriteAt([]byte{1}, 0)
					f.Close()
				}
				if err != nil {
					t.Error(err)
				}
			}
			defer release()
			for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
				b, err := os.ReadFile(flag)
				if err == nil && len(b) == 2 && b[1] == 1 {
					break
				}
				select {
				case a := <-computed:
					t.Fatalf("compute.py ended before computing: %d %v %q\n%s", a.code, a.err, a.body, logs())
				default:
				}
				if time.Since(start) > 30*time.Second {
					t.Fatalf("compute.py never started\n%s", logs())
				}
			}
			for i := range 6 {
				path := []string{"hello.py", "env.py?q=1"}[i%2]
				code, body, err := fetch(t, client, base+"cgi-bin/"+path)
				if err != nil || code != 200 {
					t.Fatalf("%s while compute.py computes: %d %v %q\n%s", path, code, err, body, logs())
				}
			}
			select {
			case a := <-computed:
				t.Fatalf("compute.py ended before the other requests were answered: %d %v %q", a.code, a.err, a.body)
			default:
			}
			release()
			a := <-computed
			if a.err != nil || a.code != 200 || a.body != "released\n" {
				t.Errorf("compute.py: %d %v %q, want 200 %q\n%s", a.code, a.err, a.body, "released\n", logs())
			}
		})
	}
}
