//go:build cgo

package pyhost

import (
	"os"
	"strings"
	"testing"
)

// TestSitePackages: scripts find the packages /usr/bin/python3 finds,
// and the configuration is isolated and in UTF-8 mode.
func TestSitePackages(t *testing.T) {
	res := execOnce(t, script(t, "sitepkgs.py"))
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if len(lines) < 3 {
		t.Fatalf("output %q (stderr %q)", res.Stdout, res.Stderr)
	}
	if !strings.HasPrefix(lines[2], "1 1 ") {
		t.Errorf("flags line %q: want utf8_mode=1 isolated=1", lines[2])
	}
	prefix := strings.TrimPrefix(lines[2], "1 1 ")
	if prefix == "/usr" {
		if _, err := os.Stat("/usr/lib/python3/dist-packages"); err == nil &&
			!strings.Contains(string(res.Stdout), "\n/usr/lib/python3/dist-packages") {
			t.Errorf("Debian's dist-packages missing from sys.path:\n%s", res.Stdout)
		}
	}
	t.Logf("sys.prefix %s, sys.path:\n%s", prefix, strings.Join(lines[3:], "\n"))
}

// execOnce runs the script at path once in a new sub-interpreter.
func execOnce(t *testing.T, path string) Result {
	t.Helper()
	var res Result
	var err error
	onThread(t, func(ip *Interp) {
		err = ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res)
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
