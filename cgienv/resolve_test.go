package cgienv

import (
	"errors"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	root, _ := makeTree(t)
	h := &Handler{Root: root, Runner: &scripts{}}

	tests := []struct {
		name     string
		path     string
		wantErr  error
		wantName string // SCRIPT_NAME
		wantInfo string // PATH_INFO
		wantFile string // relative to root
	}{
		// Scripts that resolve.
		{name: "plain", path: "/cgi-bin/env.py", wantName: "/cgi-bin/env.py", wantFile: "env.py"},
		{name: "path info", path: "/cgi-bin/env.py/a/b", wantName: "/cgi-bin/env.py", wantInfo: "/a/b", wantFile: "env.py"},
		{name: "trailing slash is path info", path: "/cgi-bin/env.py/", wantName: "/cgi-bin/env.py", wantInfo: "/", wantFile: "env.py"},
		{name: "merged slashes", path: "/cgi-bin//env.py", wantName: "/cgi-bin/env.py", wantFile: "env.py"},
		{name: "path info normalised", path: "/cgi-bin/env.py/a//b/./c/", wantName: "/cgi-bin/env.py", wantInfo: "/a/b/c/", wantFile: "env.py"},
		{name: "dot dot in path info", path: "/cgi-bin/env.py/x/..", wantName: "/cgi-bin/env.py", wantInfo: "/", wantFile: "env.py"},
		{name: "single dot at end", path: "/cgi-bin/env.py/.", wantName: "/cgi-bin/env.py", wantInfo: "/", wantFile: "env.py"},
		{name: "dot dot before script", path: "/cgi-bin/sub/../env.py/x", wantName: "/cgi-bin/env.py", wantInfo: "/x", wantFile: "env.py"},
		{name: "encoded dot dot normalised first", path: "/cgi-bin/a/%2e%2e/env.py", wantName: "/cgi-bin/env.py", wantFile: "env.py"},
		{name: "climb out and back", path: "/cgi-bin/%2E%2E/cgi-bin/env.py", wantName: "/cgi-bin/env.py", wantFile: "env.py"},
		{name: "mixed dot escape", path: "/cgi-bin/sub/.%2E/env.py", wantName: "/cgi-bin/env.py", wantFile: "env.py"},
		{name: "encoded name", path: "/cgi-bin/env%2Epy", wantName: "/cgi-bin/env.py", wantFile: "env.py"},
		{name: "subdirectory", path: "/cgi-bin/sub/env.py/x%20y", wantName: "/cgi-bin/sub/env.py", wantInfo: "/x y", wantFile: "sub/env.py"},
		{name: "space in name", path: "/cgi-bin/my%20script.py", wantName: "/cgi-bin/my script.py", wantFile: "my script.py"},
		{name: "utf-8 name", path: "/cgi-bin/%C3%A9.py", wantName: "/cgi-bin/é.py", wantFile: "é.py"},
		{name: "double encoding decoded once", path: "/cgi-bin/env.py/%252e%252e", wantName: "/cgi-bin/env.py", wantInfo: "/%2e%2e", wantFile: "env.py"},
		{name: "overlong utf-8 is bytes in path info", path: "/cgi-bin/env.py/%c0%ae", wantName: "/cgi-bin/env.py", wantInfo: "/\xc0\xae", wantFile: "env.py"},
		{name: "hidden path info is fine", path: "/cgi-bin/env.py/.hidden", wantName: "/cgi-bin/env.py", wantInfo: "/.hidden", wantFile: "env.py"},
		{name: "symlink inside root", path: "/cgi-bin/linkin.py", wantName: "/cgi-bin/linkin.py", wantFile: "linkin.py"},
		{name: "question mark in path info", path: "/cgi-bin/env.py/a%3Fb", wantName: "/cgi-bin/env.py", wantInfo: "/a?b", wantFile: "env.py"},

		// Hostile or wrong paths.
		{name: "dot dot out of prefix", path: "/cgi-bin/../etc/passwd", wantErr: ErrNotFound},
		{name: "encoded dot dot out of prefix", path: "/cgi-bin/%2e%2e/outside/evil.py", wantErr: ErrNotFound},
		{name: "dot dot above root", path: "/cgi-bin/%2e%2e/%2e%2e/etc/passwd", wantErr: ErrBadPath},
		{name: "leading dot dot", path: "/../cgi-bin/env.py", wantErr: ErrBadPath},
		{name: "dot dot dot escapes", path: "/cgi-bin/./.%2e/.%2e/etc", wantErr: ErrBadPath},
		{name: "path info climbs out", path: "/cgi-bin/env.py/../../etc/passwd", wantErr: ErrNotFound},
		{name: "path info climbs to script dir", path: "/cgi-bin/env.py/%2e%2e/x", wantErr: ErrNotFound},
		{name: "encoded slash", path: "/cgi-bin/env.py%2F..%2F..%2Fetc", wantErr: ErrNotFound},
		{name: "encoded slash lower case", path: "/cgi-bin/%2fetc%2fpasswd", wantErr: ErrNotFound},
		{name: "encoded slash in path info", path: "/cgi-bin/env.py/a%2Fb", wantErr: ErrNotFound},
		{name: "double encoded dot dot is a name", path: "/cgi-bin/%252e%252e/env.py", wantErr: ErrNotFound},
		{name: "backslash", path: "/cgi-bin/..\\..\\etc\\passwd", wantErr: ErrNotFound},
		{name: "encoded backslash", path: "/cgi-bin/env.py%5C", wantErr: ErrNotFound},
		{name: "encoded backslash in path info", path: "/cgi-bin/env.py/a%5cb", wantErr: ErrNotFound},
		{name: "nul", path: "/cgi-bin/env.py%00", wantErr: ErrNotFound},
		{name: "nul before extension", path: "/cgi-bin/env.py%00.txt", wantErr: ErrNotFound},
		{name: "nul in path info", path: "/cgi-bin/env.py/%00", wantErr: ErrNotFound},
		{name: "overlong dot dot", path: "/cgi-bin/%c0%ae%c0%ae/env.py", wantErr: ErrNotFound},
		{name: "overlong slash", path: "/cgi-bin/env.py%c0%af..%c0%afetc", wantErr: ErrNotFound},
		{name: "dot env", path: "/cgi-bin/.env", wantErr: ErrNotFound},
		{name: "git config", path: "/cgi-bin/.git/config", wantErr: ErrNotFound},
		{name: "hidden directory", path: "/cgi-bin/.hidden/env.py", wantErr: ErrNotFound},
		{name: "encoded hidden directory", path: "/cgi-bin/%2ehidden/env.py", wantErr: ErrNotFound},
		{name: "pycache", path: "/cgi-bin/__pycache__/x.py", wantErr: ErrNotFound},
		{name: "symlink out of root", path: "/cgi-bin/linkout.py", wantErr: ErrNotFound},
		{name: "symlinked directory out of root", path: "/cgi-bin/linkdir/evil.py", wantErr: ErrNotFound},
		{name: "dangling symlink", path: "/cgi-bin/dangling.py", wantErr: ErrNotFound},
		{name: "not executable", path: "/cgi-bin/config.ini", wantErr: ErrNotExecutable},
		{name: "prefix directory", path: "/cgi-bin/", wantErr: ErrForbidden},
		{name: "encoded dot is the directory", path: "/cgi-bin/%2e", wantErr: ErrForbidden},
		{name: "subdirectory", path: "/cgi-bin/sub", wantErr: ErrForbidden},
		{name: "subdirectory slash", path: "/cgi-bin/sub/", wantErr: ErrForbidden},
		{name: "back to prefix directory", path: "/cgi-bin/sub/..", wantErr: ErrForbidden},
		{name: "prefix without slash", path: "/cgi-bin", wantErr: ErrNotFound},
		{name: "similar prefix", path: "/cgi-binx/env.py", wantErr: ErrNotFound},
		{name: "missing", path: "/cgi-bin/nonexistent.py/x", wantErr: ErrNotFound},
		{name: "case matters", path: "/cgi-bin/ENV.py", wantErr: ErrNotFound},
		{name: "semicolon is a name", path: "/cgi-bin/env.py;.txt", wantErr: ErrNotFound},
		{name: "invalid escape", path: "/cgi-bin/env.py/%zz", wantErr: ErrBadPath},
		{name: "truncated escape", path: "/cgi-bin/%", wantErr: ErrBadPath},
		{name: "iis unicode escape", path: "/cgi-bin/%u002e%u002e/env.py", wantErr: ErrBadPath},
		{name: "relative", path: "cgi-bin/env.py", wantErr: ErrBadPath},
		{name: "empty", path: "", wantErr: ErrBadPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := h.Resolve(tt.path)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve(%q) = %+v, %v; want error %v", tt.path, s, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.path, err)
			}
			if s.Name != tt.wantName || s.PathInfo != tt.wantInfo {
				t.Errorf("Resolve(%q) = name %q, info %q; want %q, %q", tt.path, s.Name, s.PathInfo, tt.wantName, tt.wantInfo)
			}
			if want := filepath.Join(root, tt.wantFile); s.Filename != want {
				t.Errorf("Resolve(%q).Filename = %q; want %q", tt.path, s.Filename, want)
			}
			if s.Stamp.Size == 0 || s.Stamp.MtimeNs == 0 || s.Stamp.Ino == 0 {
				t.Errorf("Resolve(%q).Stamp = %+v; want it filled in", tt.path, s.Stamp)
			}
		})
	}
}

func TestResolveFollowSymlinks(t *testing.T) {
	root, outside := makeTree(t)
	h := &Handler{Root: root, Runner: &scripts{}, FollowSymlinks: true}
	for _, p := range []string{"/cgi-bin/linkout.py", "/cgi-bin/linkdir/evil.py"} {
		s, err := h.Resolve(p)
		if err != nil {
			t.Fatalf("Resolve(%q) with FollowSymlinks: %v", p, err)
		}
		fi, err := os.Stat(filepath.Join(outside, "evil.py"))
		if err != nil {
			t.Fatal(err)
		}
		if s.Stamp.Size != fi.Size() {
			t.Errorf("Resolve(%q).Stamp.Size = %d; want the target's %d", p, s.Stamp.Size, fi.Size())
		}
	}
	if _, err := h.Resolve("/cgi-bin/dangling.py"); !errors.Is(err, ErrNotFound) {
		t.Errorf("dangling link with FollowSymlinks: %v; want ErrNotFound", err)
	}
}

func TestResolveRootBehindSymlink(t *testing.T) {
	root, _ := makeTree(t)
	link := filepath.Join(t.TempDir(), "served")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Root: link, Prefix: "/scripts", Runner: &scripts{}}
	s, err := h.Resolve("/scripts/linkin.py/p")
	if err != nil {
		t.Fatalf("link inside a symlinked root: %v", err)
	}
	if want := filepath.Join(link, "linkin.py"); s.Filename != want || s.Name != "/scripts/linkin.py" || s.PathInfo != "/p" {
		t.Errorf("got %+v; want Filename %q, Name /scripts/linkin.py, PathInfo /p", s, want)
	}
	if _, err := h.Resolve("/scripts/linkout.py"); !errors.Is(err, ErrNotFound) {
		t.Errorf("link out of a symlinked root: %v; want ErrNotFound", err)
	}
}

func TestResolveStampChanges(t *testing.T) {
	root, _ := makeTree(t)
	h := &Handler{Root: root, Runner: &scripts{}}
	before, err := h.Resolve("/cgi-bin/env.py")
	if err != nil {
		t.Fatal(err)
	}
	// An atomic replace, as deploy tools do it: a new inode.
	tmp := filepath.Join(root, "env.py.new")
	if err := os.WriteFile(tmp, []byte("#!/usr/bin/python3\nprint('y')\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "env.py")); err != nil {
		t.Fatal(err)
	}
	after, err := h.Resolve("/cgi-bin/env.py")
	if err != nil {
		t.Fatal(err)
	}
	if after == before || after.Stamp.Ino == before.Stamp.Ino {
		t.Errorf("stamp after replace = %+v; want a different inode than %+v", after.Stamp, before.Stamp)
	}
	// Same size, same inode, new mtime.
	later := time.Unix(0, after.Stamp.MtimeNs).Add(time.Second)
	if err := os.Chtimes(filepath.Join(root, "env.py"), later, later); err != nil {
		t.Fatal(err)
	}
	touched, err := h.Resolve("/cgi-bin/env.py")
	if err != nil {
		t.Fatal(err)
	}
	if touched.Stamp.MtimeNs != later.UnixNano() {
		t.Errorf("MtimeNs = %d; want %d", touched.Stamp.MtimeNs, later.UnixNano())
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "clean", in: "/a/b", want: "/a/b"},
		{name: "root", in: "/", want: "/"},
		{name: "slashes", in: "//a///b//", want: "/a/b/"},
		{name: "dots", in: "/a/./b/../c", want: "/a/c"},
		{name: "trailing dot dot", in: "/a/b/..", want: "/a/"},
		{name: "to root", in: "/a/..", want: "/"},
		{name: "dot names kept", in: "/a/.b/..c/...", want: "/a/.b/..c/..."},
		{name: "decoded", in: "/a%20b/%41", want: "/a b/A"},
		{name: "decoded dots", in: "/a/%2e%2E/b", want: "/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cleanPath(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("cleanPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestResolveRefusedNames(t *testing.T) {
	root, _ := makeTree(t)
	h := &Handler{Root: root, Runner: &scripts{}}
	if err := os.MkdirAll(filepath.Join(root, "old.bak"), 0o755); err != nil {
		t.Fatal(err)
	}
	refused := []string{"env.py~", "env.py.bak", "ENV.PY.BAK", "env.py.orig", "env.py.rej", "env.py.old",
		"env.py.save", "env.py.swp", "env.py.swo", "env.pyc", "env.pyo", "env.py.tmp", "#env.py#",
		"env.py.dpkg-old", "env.py.dpkg-dist", "env.py.rpmnew", "old.bak/env.py", ".env.py.swp", ".htaccess", "~"}
	// Names that merely resemble them are scripts like any other.
	allowed := []string{"backup.py", "bak.py", "pyc.py", "tmp", "a~b.py", "#env.py", "env.py.bakery",
		"x.dpkg-olden", "env."}
	addScripts(t, root, append(refused, allowed...)...)
	for _, name := range refused {
		t.Run(name, func(t *testing.T) {
			if s, err := h.Resolve("/cgi-bin/" + url.PathEscape(name)); !errors.Is(err, ErrNotFound) {
				t.Errorf("Resolve(%q) = %+v, %v; want ErrNotFound", name, s, err)
			}
		})
	}
	for _, name := range allowed {
		t.Run(name, func(t *testing.T) {
			if _, err := h.Resolve("/cgi-bin/" + url.PathEscape(name)); err != nil {
				t.Errorf("Resolve(%q): %v; want the script", name, err)
			}
		})
	}
}

func TestResolveWorldWritable(t *testing.T) {
	root, _ := makeTree(t)
	for _, d := range []string{"uploads", "sticky"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addScripts(t, root, "uploads/evil.py", "open.py", "sticky/x.py")
	for name, mode := range map[string]os.FileMode{"uploads": 0o777, "open.py": 0o757, "sticky": 0o777 | os.ModeSticky} {
		if err := os.Chmod(filepath.Join(root, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("open.py", filepath.Join(root, "link.py")); err != nil {
		t.Fatal(err)
	}
	paths := []string{"/cgi-bin/uploads/evil.py", "/cgi-bin/open.py", "/cgi-bin/sticky/x.py", "/cgi-bin/link.py/x"}
	strict := &Handler{Root: root, Runner: &scripts{}}
	loose := &Handler{Root: root, Runner: &scripts{}, AllowWorldWritable: true}
	for _, p := range paths {
		if s, err := strict.Resolve(p); !errors.Is(err, ErrWritable) {
			t.Errorf("Resolve(%q) = %+v, %v; want ErrWritable", p, s, err)
		}
		if _, err := loose.Resolve(p); err != nil {
			t.Errorf("Resolve(%q) with AllowWorldWritable: %v", p, err)
		}
	}
	// Group-writable is the administrator's business, and allowed.
	if err := os.Chmod(filepath.Join(root, "uploads"), 0o775); err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Resolve("/cgi-bin/uploads/evil.py"); err != nil {
		t.Errorf("script in a group-writable directory: %v", err)
	}
}

// FuzzResolve checks that no escaped path, however hostile, resolves to
// anything but an executable regular file below Root that the normalised
// path names, outside hidden, backup and bytecode names.
func FuzzResolve(f *testing.F) {
	root, outside := makeTree(f)
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		f.Fatal(err)
	}
	realOutside, err := filepath.EvalSymlinks(outside)
	if err != nil {
		f.Fatal(err)
	}
	addScripts(f, root, "env.py~", "env.py.bak", "env.pyc", "sub/deeper/x.py")
	h := &Handler{Root: root, Runner: &scripts{}}
	for _, seed := range []string{
		"/cgi-bin/env.py", "/cgi-bin/env.py/a/b?c", "/cgi-bin/sub/env.py/x%20y", "/cgi-bin/linkin.py",
		"/cgi-bin/../outside/evil.py", "/cgi-bin/%2e%2e/outside/evil.py", "/cgi-bin/.%2E/outside/evil.py",
		"/cgi-bin/%252e%252e/outside/evil.py", "/cgi-bin/..%2foutside%2fevil.py", "/cgi-bin/..\\outside\\evil.py",
		"/cgi-bin/%c0%ae%c0%ae/outside/evil.py", "/cgi-bin/env.py%00.txt", "/cgi-bin/linkout.py",
		"/cgi-bin/linkdir/evil.py", "/cgi-bin/.env", "/cgi-bin/.git/config", "/cgi-bin/__pycache__/x.py",
		"/cgi-bin/env.py~", "/cgi-bin/env.py.bak", "/cgi-bin/env.pyc", "/cgi-bin/sub/../../outside/evil.py",
		"/cgi-bin//sub//./deeper/x.py", "/cgi-bin/sub/deeper/../../env.py/..", "/cgi-bin/%",
		"/cgi-bin/%u002e", "//cgi-bin/env.py", "/cgi-bin/config.ini", "/cgi-bin/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		s, err := h.Resolve(escaped)
		if err != nil {
			for _, known := range []error{ErrBadPath, ErrNotFound, ErrForbidden, ErrNotExecutable, ErrWritable} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Resolve(%q): unexpected error kind %v", escaped, err)
		}
		rel, ok := strings.CutPrefix(s.Name, "/cgi-bin/")
		if !ok || rel == "" {
			t.Fatalf("Resolve(%q): SCRIPT_NAME %q is not under the prefix", escaped, s.Name)
		}
		if want := root + "/" + rel; s.Filename != want {
			t.Fatalf("Resolve(%q): Filename %q; want %q (SCRIPT_NAME %q)", escaped, s.Filename, want, s.Name)
		}
		for seg := range strings.SplitSeq(rel, "/") {
			if seg == "" || seg == "." || seg == ".." || refusedName(seg) {
				t.Fatalf("Resolve(%q): SCRIPT_NAME %q has segment %q", escaped, s.Name, seg)
			}
		}
		whole := s.Name + s.PathInfo
		if strings.ContainsAny(whole, "\x00\\") || strings.Contains(whole, "//") {
			t.Fatalf("Resolve(%q): %q holds NUL, backslash or //", escaped, whole)
		}
		// An independent oracle: decoding once and cleaning the path
		// lexically must give the same path.
		decoded, err := url.PathUnescape(escaped)
		if err != nil {
			t.Fatalf("Resolve(%q) succeeded but url.PathUnescape fails: %v", escaped, err)
		}
		if a, b := path.Clean(decoded), path.Clean(whole); a != b {
			t.Fatalf("Resolve(%q): cleaned %q, but the lexical clean of the decoded path is %q", escaped, b, a)
		}
		real, err := filepath.EvalSymlinks(s.Filename)
		if err != nil {
			t.Fatalf("Resolve(%q) = %q, which does not resolve: %v", escaped, s.Filename, err)
		}
		if !within(realRoot, real) || within(realOutside, real) {
			t.Fatalf("Resolve(%q) = %q, really %q: outside %q", escaped, s.Filename, real, realRoot)
		}
		fi, err := os.Stat(real)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			t.Fatalf("Resolve(%q) = %q: not an executable regular file (%v, %v)", escaped, s.Filename, fi, err)
		}
	})
}
