package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/check"
)

// runCheck runs warmcgi check --json and returns its report by path; the
// check's exit status must be wantStatus (0: all fine, 3: a script needs
// attention).
func runCheck(t *testing.T, wantStatus int, args ...string) map[string]check.Result {
	t.Helper()
	out, err := exec.Command(warmcgiBin, append([]string{"check", "--json"}, args...)...).Output()
	status := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("warmcgi check %q: %v\n%s", args, err, out)
	}
	if status != wantStatus {
		t.Fatalf("warmcgi check %q: exit status %d, want %d\n%s", args, status, wantStatus, out)
	}
	got := map[string]check.Result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r check.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got[r.Path] = r
	}
	return got
}

// TestCheckTestdata: every file of testdata/cgi-bin is classified the way
// serve runs it.
func TestCheckTestdata(t *testing.T) {
	dir := testdataCGIBin(t)
	got := runCheck(t, 3, dir) // 3: compat/013-syntax-error.py does not compile
	want := map[string]string{
		"hello.py": "embedded", "form.py": "embedded", "optimized.py": "embedded", "unbuffered.py": "embedded",
		"hello.sh": "plain-cgi", "hello.pl": "plain-cgi", "py2.py": "plain-cgi", "noshebang.py": "plain-cgi",
		"config.ini": "not-run", "mylib.py": "not-run", "a/config.py": "not-run", "a/show.py": "embedded",
	}
	for name, mode := range want {
		if got[name].Mode != check.Mode(mode) {
			t.Errorf("%s: %+v, want mode %s", name, got[name], mode)
		}
	}
	// Every file is reported, and the rule holds for all of them.
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		r, ok := got[rel]
		if !ok {
			t.Errorf("%s: not in the report", rel)
			return nil
		}
		fi, _ := d.Info()
		py3 := backend.Python3Script(path)
		switch {
		case fi.Mode()&0o111 == 0 && r.Mode != "not-run":
			t.Errorf("%s: not executable, reported %s", rel, r.Mode)
		case fi.Mode()&0o111 != 0 && py3 && r.Mode != "embedded" && (r.Mode != "fails" || r.CompileError == ""):
			// (A script that does not compile, compat/013-syntax-error.py,
			// "fails", as it does under Apache.)
			t.Errorf("%s: a Python 3 script, reported %+v", rel, r)
		case fi.Mode()&0o111 != 0 && !py3 && r.Mode != "plain-cgi":
			t.Errorf("%s: not Python 3, reported %+v", rel, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckFindings: compile errors, constructs that need a mode, hidden
// and backup files, and --cgi.
func TestCheckFindings(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"broken.py":  "#!/usr/bin/python3\nprint \"python 2\"\n",
		"forker.py":  "#!/usr/bin/python3\nimport os, signal as sig\nfrom os import fork\nsig.alarm(5)\nif fork() == 0:\n    os._exit(0)\n",
		"forced.py":  "#!/usr/bin/python3\nprint()\n",
		"old.py~":    "#!/usr/bin/python3\n",
		".env":       "SECRET=1\n",
		"flagged.py": "#!/usr/bin/python3 -S\nprint()\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := runCheck(t, 3, dir, "--cgi", "forced.py") // 3: broken.py
	if r := got["broken.py"]; r.Mode != "fails" || !strings.Contains(r.CompileError, "SyntaxError") {
		t.Errorf("broken.py: %+v", r)
	}
	calls := map[string]int{}
	for _, c := range got["forker.py"].Constructs {
		calls[c.Call] = c.Compat
	}
	if calls["os.fork"] != 49 || calls["signal.alarm"] != 76 || calls["os._exit"] != 46 {
		t.Errorf("forker.py constructs %+v, want os.fork (49), signal.alarm (76), os._exit (46)", got["forker.py"].Constructs)
	}
	for name, mode := range map[string]string{"forced.py": "plain-cgi", "old.py~": "not-run", ".env": "not-run", "flagged.py": "plain-cgi"} {
		if got[name].Mode != check.Mode(mode) {
			t.Errorf("%s: %+v, want %s", name, got[name], mode)
		}
	}
}
