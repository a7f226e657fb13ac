package main

// TestHgweb deploys Mercurial's example hgweb.cgi the way its documentation
// says (copy it into a cgi-bin, edit its config line) and uses it through
// real HTTP with the real hg client: browse, raw files, clone, push. Mercurial
// is the classic trap for persistent CGI hosts: it keeps sys.stdout.buffer and
// sys.stdin.buffer from import time and enables demandimport, so bugs show on
// the second request, not the first.

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hgwebExample is where Debian's mercurial-common puts the example script;
// Debian may compress it.
const hgwebExample = "/usr/share/doc/mercurial-common/examples/hgweb.cgi"

// hgCommandTimeout bounds every hg command the test runs.
const hgCommandTimeout = 2 * time.Minute

// hgFixture is a repository, the hg client's environment and the URL
// hgweb.cgi serves the repository on.
type hgFixture struct {
	hg     string
	env    []string
	url    string // http://127.0.0.1:PORT/cgi-bin/hgweb.cgi, no trailing slash
	client *http.Client
}

// hgwebPrerequisites returns the hg command and the example script's
// contents, or skips (fails in CI, which installs mercurial).
func hgwebPrerequisites(t *testing.T) (hg string, script []byte) {
	t.Helper()
	hg, script, unavailable := findHgweb(t)
	if unavailable != "" {
		t.Skipf("skipping: %s", unavailable)
	}
	return hg, script
}

// findHgweb returns the hg command and the example script's contents, or
// why they cannot be used here; a missing package fails the test in CI,
// which installs mercurial.
func findHgweb(t testing.TB) (hg string, script []byte, unavailable string) {
	t.Helper()
	missing := func(format string, args ...any) string {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI installs mercurial: apt-get install mercurial)", msg)
		}
		return msg + "; on Debian: apt-get install mercurial"
	}
	hg, err := exec.LookPath("hg")
	if err != nil {
		return "", nil, missing("the hg command is not on PATH: %v", err)
	}
	// Debian's Mercurial (C extensions included) is built for Debian's
	// python3; warmcgi linked with another Python cannot import it, just
	// as that Python could not.
	if sys, linked := debianPythonVersion(t), pythonMajorMinor(); sys != linked {
		return "", nil, fmt.Sprintf("Debian's Mercurial is for Python %s; this warmcgi embeds Python %s", sys, linked)
	}
	if b, err := os.ReadFile(hgwebExample); err == nil {
		return hg, b, ""
	}
	f, err := os.Open(hgwebExample + ".gz")
	if err != nil {
		return "", nil, missing("Mercurial's example %s(.gz) is missing: %v", hgwebExample, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s.gz: %v", hgwebExample, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s.gz: %v", hgwebExample, err)
	}
	return hg, b, ""
}

var hgwebConfigLine = regexp.MustCompile(`(?m)^config = (b?)"/path/to/repo/or/config"$`)

// configureHgweb edits only the example's config line, as the docs tell
// users to.
func configureHgweb(t *testing.T, script []byte, repo string) []byte {
	t.Helper()
	if n := len(hgwebConfigLine.FindAllIndex(script, -1)); n != 1 {
		t.Fatalf("the example hgweb.cgi has %d lines `config = \"/path/to/repo/or/config\"`, want 1:\n%s", n, script)
	}
	return hgwebConfigLine.ReplaceAllFunc(script, func(m []byte) []byte {
		prefix := hgwebConfigLine.FindSubmatch(m)[1]
		return []byte("config = " + string(prefix) + strconv.Quote(repo))
	})
}

// run runs hg with args in dir and returns its standard output.
func (f *hgFixture) run(dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hgCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.hg, args...)
	cmd.Dir = dir
	cmd.Env = f.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("hg %s (in %s): %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), dir, err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func (f *hgFixture) mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := f.run(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fetch GETs path below the hgweb.cgi URL and returns the status and body.
func (f *hgFixture) fetch(path string) (int, []byte, error) {
	resp, err := f.client.Get(f.url + path)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, body, nil
}

// expectPage checks that path answers 200 with a body containing every one
// of want.
func (f *hgFixture) expectPage(path string, want ...string) error {
	code, body, err := f.fetch(path)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: status %d, want 200; body:\n%s", path, code, excerpt(body))
	}
	for _, w := range want {
		if !bytes.Contains(body, []byte(w)) {
			return fmt.Errorf("GET %s: body lacks %q:\n%s", path, w, excerpt(body))
		}
	}
	return nil
}

// expectRaw checks that /raw-file/tip/NAME answers 200 with exactly want.
func (f *hgFixture) expectRaw(name string, want []byte) error {
	path := "/raw-file/tip/" + name
	code, body, err := f.fetch(path)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: status %d, want 200; body:\n%s", path, code, excerpt(body))
	}
	if !bytes.Equal(body, want) {
		return fmt.Errorf("GET %s: got %d bytes %q, want %d bytes %q", path, len(body), excerpt(body), len(want), excerpt(want))
	}
	return nil
}

// expectClone clones the repository over HTTP into dir and compares every
// file of want with the working copy.
func (f *hgFixture) expectClone(dir string, want map[string][]byte) error {
	if _, err := f.run(filepath.Dir(dir), "clone", f.url, dir); err != nil {
		return err
	}
	for name, content := range want {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("clone %s: %v", dir, err)
		}
		if !bytes.Equal(got, content) {
			return fmt.Errorf("clone %s: %s is %q, want %q", dir, name, excerpt(got), excerpt(content))
		}
	}
	return nil
}

func excerpt(b []byte) string {
	const max = 1500
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

func TestHgweb(t *testing.T) { hgwebTest(t) }

// TestHgwebProcess serves Mercurial from worker processes, whose real
// stdio objects Mercurial keeps from its first import on.
func TestHgwebProcess(t *testing.T) { hgwebTest(t, "--isolation", "process", "--queue", "64") }

func hgwebTest(t *testing.T, flags ...string) {
	hg, script := hgwebPrerequisites(t)

	root := t.TempDir()
	// t.TempDir's directories are 0700; the scripts may run as www-data.
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cgiDir := filepath.Join(root, "cgi-bin")
	if err := os.Mkdir(cgiDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, files, work := newHgwebFixture(t, hg, script, root, cgiDir)

	base, logs := startWarmcgi(t, cgiDir, flags...)
	f.url = base + "cgi-bin/hgweb.cgi"

	want := map[string][]byte{}
	for name, content := range files {
		want[name] = content
	}
	// A failed clone or push is reported and the rounds go on, so that one
	// run shows everything that works and everything that does not.
	latest := "Add hello and bytes"
	const rounds = 4
	for round := 1; round <= rounds; round++ {
		t.Logf("round %d", round)
		// The repository's index page shows the latest commits.
		if err := f.expectPage("/", latest, "Add hello and bytes", "Add the fixture readme"); err != nil {
			t.Fatalf("round %d: summary: %v", round, err)
		}
		if err := f.expectPage("/file/tip/", "README", "src"); err != nil {
			t.Fatalf("round %d: manifest: %v", round, err)
		}
		if err := f.expectPage("/file/tip/README", "warmcgi hgweb fixture", "second line of the readme"); err != nil {
			t.Fatalf("round %d: file view: %v", round, err)
		}
		for name, content := range want {
			if err := f.expectRaw(name, content); err != nil {
				t.Fatalf("round %d: raw file: %v", round, err)
			}
		}

		clone := filepath.Join(work, fmt.Sprintf("clone-%d", round))
		if err := f.expectClone(clone, want); err != nil {
			t.Errorf("round %d: %v", round, err)
			continue
		}

		// Commit in the clone and push it back over HTTP.
		name := fmt.Sprintf("pushed/file-%d.txt", round)
		content := []byte(fmt.Sprintf("pushed over HTTP in round %d\n", round))
		message := fmt.Sprintf("Push number %d", round)
		if err := os.MkdirAll(filepath.Join(clone, "pushed"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(clone, filepath.FromSlash(name)), content, 0o644); err != nil {
			t.Fatal(err)
		}
		f.mustRun(t, clone, "add", name)
		f.mustRun(t, clone, "commit", "-m", message)
		if _, err := f.run(clone, "push", f.url); err != nil {
			t.Errorf("round %d: push: %v", round, err)
			continue
		}
		want[name] = content
		latest = message
		if err := f.expectRaw(name, content); err != nil {
			t.Fatalf("round %d: the pushed file: %v", round, err)
		}
		// The client agrees that there is nothing left to pull.
		if out, err := f.run(clone, "incoming", f.url); err == nil || !strings.Contains(out, "no changes found") {
			t.Errorf("round %d: hg incoming after the push: %v (want exit 1 and \"no changes found\")\n%s", round, err, out)
		}
	}

	// Concurrent readers and a concurrent clone.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name, content := range want {
				if err := f.expectRaw(name, content); err != nil {
					t.Errorf("concurrent reader %d: %v", i, err)
					return
				}
			}
			if err := f.expectPage("/", latest); err != nil {
				t.Errorf("concurrent reader %d: summary: %v", i, err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := f.expectClone(filepath.Join(work, "clone-concurrent"), want); err != nil {
			t.Errorf("concurrent clone: %v", err)
		}
	}()
	wg.Wait()

	if strings.Contains(logs(), "Traceback") {
		t.Errorf("warmcgi logged a Python traceback (the server log follows)")
	}
}

// newHgwebFixture makes, under root, a repository with two commits of
// files (a text file, a file in a directory, every byte value), the hg
// client's home and a work directory for clones, and deploys hgweb.cgi
// for the repository into cgiDir as its documentation says (push allowed).
// The fixture's url is left for the caller to set.
func newHgwebFixture(t *testing.T, hg string, script []byte, root, cgiDir string) (f *hgFixture, files map[string][]byte, work string) {
	t.Helper()
	home := filepath.Join(root, "home")
	work = filepath.Join(root, "work")
	repo := filepath.Join(root, "repo")
	for _, d := range []string{home, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f = &hgFixture{
		hg: hg,
		// No user or system configuration: HGRCPATH set but empty reads
		// only the repository's own .hg/hgrc.
		env: []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + home,
			"HGRCPATH=",
			"HGPLAIN=1",
			"HGUSER=test <test@example.invalid>",
			"HGENCODING=utf-8",
			"LANG=C.UTF-8",
		},
		client: &http.Client{Timeout: time.Minute},
	}

	// The repository, with a text file, a file in a directory and a file
	// with every byte value (raw-file must return it untouched).
	files = map[string][]byte{
		"README":         []byte("warmcgi hgweb fixture\nsecond line of the readme\n"),
		"src/hello.py":   []byte("print('hello from the fixture')\n"),
		"data/bytes.bin": make([]byte, 0, 512),
	}
	for i := 0; i < 512; i++ {
		files["data/bytes.bin"] = append(files["data/bytes.bin"], byte(i))
	}
	f.mustRun(t, root, "init", repo)
	for name, content := range files {
		p := filepath.Join(repo, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.mustRun(t, repo, "add", "README")
	f.mustRun(t, repo, "commit", "-m", "Add the fixture readme")
	f.mustRun(t, repo, "add", "src/hello.py", "data/bytes.bin")
	f.mustRun(t, repo, "commit", "-m", "Add hello and bytes")
	hgrc := "[web]\nallow-push = *\npush_ssl = false\n"
	if err := os.WriteFile(filepath.Join(repo, ".hg", "hgrc"), []byte(hgrc), 0o644); err != nil {
		t.Fatal(err)
	}

	// hgweb.cgi, deployed as its documentation says.
	cgiPath := filepath.Join(cgiDir, "hgweb.cgi")
	if err := os.WriteFile(cgiPath, configureHgweb(t, script, repo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cgiPath, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}

	// A push writes into the repository as the user the scripts run as.
	args := privilegeArgs(cgiDir, nil)
	if len(args) == 2 && args[0] == "--user" {
		chownTree(t, repo, args[1])
	}

	return f, files, work
}

// chownTree gives dir and everything in it to the user name.
func chownTree(t *testing.T, dir, name string) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatal(err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHgwebAuto serves hgweb under --isolation auto: Mercurial's C
// extensions are single-phase, so the script is moved to auto's target
// mode at its first request, which is answered there.
func TestHgwebAuto(t *testing.T) { hgwebTest(t, "--isolation", "auto", "--queue", "64") }
