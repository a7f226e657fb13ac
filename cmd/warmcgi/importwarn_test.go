package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportWarnings: a DeprecationWarning that importing a module prints
// under the default filters reaches the error log on every request that
// imports it, as each CGI process prints it, in every mode: the module
// stays loaded between requests (issue 15, README's known differences).
// The conformance case 066-import-warnings checks the script's own view
// (recorded, raised, ignored) against Apache.
func TestImportWarnings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts warmcgi; skipped with -short")
	}
	dir := sharedCGIBin(t)
	const warning = "066-import-warnings.py:31: DeprecationWarning: module 'sre_parse' is deprecated"
	r := cc(66, "066-import-warnings", "/cgi-bin/compat/066-import-warnings.py").diffRequest
	for _, mode := range []string{"subinterp", "main", "process", "fork"} {
		t.Run(mode, func(t *testing.T) {
			base, logs := startWarmcgi(t, dir, "-w", "1", "--isolation", mode)
			const runs = 3
			for run := 1; run <= runs; run++ {
				got, err := doRaw(base, r)
				if err != nil {
					t.Fatal(err)
				}
				if got.code != 200 || !strings.Contains(string(got.body), "attempt 2 raised at line 27") {
					t.Fatalf("run %d: %q %q", run, got.statusLine, got.body)
				}
			}
			// Each run's stderr is logged as its request ends; the last
			// may still be on its way.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for {
				n := strings.Count(logs(), warning)
				if n == runs {
					break
				}
				if n > runs || ctx.Err() != nil {
					t.Fatalf("the warning is logged %d times after %d requests, want %d:\n%s", n, runs, runs, logs())
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestImportWarningsFromImport: `from package import sub`, where sub's
// import warns, warns in every request as in every CGI process, though
// the package, kept loaded, already holds sub (the import system then
// loads nothing: the runtime's __import__ sees the statement).
func TestImportWarningsFromImport(t *testing.T) {
	if pythonMajorMinor() != debianPythonVersion(t) {
		t.Skip("installs a package in Debian's python3's /usr/local dist-packages")
	}
	pkg := filepath.Join("/usr/local/lib/python"+pythonMajorMinor()+"/dist-packages", "warmcgi_test_pkg")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Skipf("cannot install a package: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(pkg) })
	old := "import warnings\nwarnings.warn(\"warmcgi_test_pkg.old is deprecated\", DeprecationWarning, stacklevel=2)\nOLD = 'old here'\n"
	if err := os.WriteFile(filepath.Join(pkg, "__init__.py"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "old.py"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	const warning = "importwarn_from.py:5: DeprecationWarning: warmcgi_test_pkg.old is deprecated"
	for _, mode := range []string{"subinterp", "process", "fork"} {
		t.Run(mode, func(t *testing.T) {
			p := startWarmcgiProcess(t, testdataCGIBin(t), "-w", "1", "--isolation", mode)
			get := getter(t, p.url)
			const runs = 3
			for range runs {
				if b := get("importwarn_from.py"); b != "old here\n" {
					t.Fatalf("importwarn_from.py: %q", b)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for {
				n := strings.Count(p.stderr.String(), warning)
				if n == runs {
					break
				}
				if n > runs || ctx.Err() != nil {
					t.Fatalf("the warning is logged %d times after %d requests, want %d:\n%s", n, runs, runs, p.stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestImportTraceback: a script whose helper's import raises logs the
// traceback python3 prints, frame for frame: the import system's frames
// (importlib's, and the runtime's __import__ that replays import warnings)
// are left out in every mode, as python3 leaves out importlib's.
func TestImportTraceback(t *testing.T) {
	script := filepath.Join(testdataCGIBin(t), "importtb", "importtb.py")
	ref, _ := exec.Command("python3", "-W", "ignore", script).CombinedOutput()
	var want []string
	for _, l := range strings.Split(string(ref), "\n") {
		if strings.HasPrefix(l, "  File ") {
			want = append(want, l)
		}
	}
	if len(want) != 2 || !strings.Contains(string(ref), "ZeroDivisionError") {
		t.Fatalf("python3 %s: %q", script, ref)
	}
	for _, mode := range []string{"subinterp", "process", "fork"} {
		t.Run(mode, func(t *testing.T) {
			p := startWarmcgiProcess(t, testdataCGIBin(t), "-w", "1", "--isolation", mode)
			client := &http.Client{Timeout: 30 * time.Second}
			for range 3 {
				if code, _, err := fetch(t, client, p.url+"cgi-bin/importtb/importtb.py"); err != nil || code != 500 {
					t.Fatalf("importtb.py: %d %v, want 500", code, err)
				}
				time.Sleep(300 * time.Millisecond) // fork mode: its sub-template
			}
			time.Sleep(200 * time.Millisecond)
			var got []string
			for _, l := range strings.Split(p.stderr.String(), "\n") {
				if i := strings.Index(l, `msg="  File \"`); i >= 0 {
					got = append(got, strings.ReplaceAll(l[i+5:strings.Index(l[i+5:], `" `)+i+5], `\"`, `"`))
				}
			}
			if len(got) != 3*len(want) {
				t.Fatalf("%d frames logged for 3 requests, want %d each as python3 prints:\n%s\npython3:\n%s",
					len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for i, l := range got {
				if l != want[i%len(want)] {
					t.Errorf("frame %d: %q, want %q", i, l, want[i%len(want)])
				}
			}
		})
	}
}
