package cgienv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
)

// Errors of path resolution. The handler answers each with the status
// Apache gives in the same situation; they are wrapped with details, so
// test them with errors.Is.
var (
	// ErrBadPath means the path could not be decoded (an invalid %
	// escape) or climbed above "/" with "..": 400, as Apache.
	ErrBadPath = errors.New("cgienv: invalid request path")
	// ErrNotFound means no script answers the path: it does not exist, is
	// outside the mount or the served directory, contains an encoded
	// slash, a NUL or a backslash, or names a hidden file: 404.
	ErrNotFound = errors.New("cgienv: script not found")
	// ErrForbidden means the path names a directory, which Apache refuses
	// to run under ScriptAlias ("attempt to invoke directory as script"): 403.
	ErrForbidden = errors.New("cgienv: attempt to invoke directory as script")
	// ErrNotExecutable means the script exists but the server may not
	// execute it. Apache fails the exec and answers 500; the file's
	// content is never served.
	ErrNotExecutable = errors.New("cgienv: script not executable")
	// ErrWritable means the script, or a directory on the way to it
	// below Root, is writable by every user, so anyone on the machine
	// could have put it there; Apache's suexec refuses to run it and
	// answers 500, and so does the handler unless AllowWorldWritable.
	ErrWritable = errors.New("cgienv: script or directory writable by others")
)

// Script is a request path resolved to a script file.
type Script struct {
	// Filename is the absolute path of the script as reached through the
	// served directory (symbolic links are not resolved, as in Apache's
	// SCRIPT_FILENAME).
	Filename string
	// Name is the decoded, normalised URL path of the script, mount
	// prefix included: SCRIPT_NAME.
	Name string
	// PathInfo is the decoded rest of the path after Name, possibly
	// empty: PATH_INFO.
	PathInfo string
	// Stamp identifies the version of the file (symbolic links followed).
	Stamp Stamp
}

// Resolve maps an escaped URL path (http.Request.URL.EscapedPath) to the
// script that serves it, the way Apache maps a ScriptAlias:
//
//   - The path is decoded once. An encoded slash (%2F), a NUL or a
//     backslash, encoded or not, gives ErrNotFound; an invalid escape
//     gives ErrBadPath.
//   - Repeated slashes are merged and "." and ".." segments removed
//     (RFC 3986 section 5.2.4) on the decoded path, before it is split into
//     script and PATH_INFO, so /cgi-bin/a/%2e%2e/env.py is /cgi-bin/env.py.
//     A ".." above "/" gives ErrBadPath; a path outside the prefix gives
//     ErrNotFound.
//   - The segments after the prefix are looked up under Root; the first
//     one that is a regular file is the script and the rest is PATH_INFO.
//     A directory with nothing after it gives ErrForbidden.
//   - A segment of the script part that starts with "." or is
//     "__pycache__", or that names an editor backup, a temporary or
//     bytecode file ("x.py~", "x.py.bak", "x.py.orig", "x.pyc", see
//     refusedName) gives ErrNotFound (Apache would run such files).
//   - A symbolic link whose target is outside Root gives ErrNotFound
//     unless FollowSymlinks is set.
//   - A regular file the server may not execute gives ErrNotExecutable.
//   - A world-writable script, or a world-writable directory between
//     Root and the script, gives ErrWritable unless AllowWorldWritable is
//     set (Root itself is the caller's to check, once).
func (h *Handler) Resolve(escapedPath string) (Script, error) {
	st := h.state()
	p, err := cleanPath(escapedPath)
	if err != nil {
		return Script{}, err
	}
	return h.resolveClean(st, p)
}

// resolveClean resolves a path already returned by cleanPath, or returns
// what it resolved to less than StatInterval ago. With ChangesPending, a
// remembered script is also stat'ed (one system call instead of the walk's
// several): a removed, replaced, rewritten or chmod'ed file is seen at the
// next request even before its inotify event has been read, and changes of
// the directories on the way come through Invalidate.
func (h *Handler) resolveClean(st *handlerState, p string) (Script, error) {
	if st.scripts == nil {
		s, _, err := h.walk(st, p)
		return s, err
	}
	pending := st.pending != nil && st.pending()
	if !pending {
		if s, f, ok := st.scripts.get(p); ok && (st.pending == nil || unchanged(s, f)) {
			return s, nil
		}
	}
	gen := st.scripts.generation()
	s, f, err := h.walk(st, p)
	// A path through a symbolic link is not kept when changes are
	// reported: the link's target may change where no one watches.
	if err == nil && !pending && !(f.viaLink && st.pending != nil) {
		st.scripts.putIf(p, s, f, gen)
	}
	return s, err
}

// unchanged reports whether the script's file is still the one walk saw,
// with the same permissions.
func unchanged(s Script, f found) bool {
	var fi fileInfo
	return statFile(s.Filename, &fi) == nil && fi.mode == modeRegular && fi.stamp == s.Stamp &&
		fi.ctime == f.ctime && fi.perm == f.perm
}

// Invalidate makes the next request for the file name, or for any file
// below it when it is a directory, look at the file system again; an empty
// name does so for every script. It is how a watcher of Root (see
// ChangesPending) reports a change; it does nothing when StatInterval is
// zero.
func (h *Handler) Invalidate(name string) {
	if st := h.state(); st.scripts != nil {
		st.scripts.invalidate(name)
	}
}

// found is what walk saw of a script besides its Script: whether the path
// went through a symbolic link, and what a later stat compares.
type found struct {
	viaLink bool
	ctime   int64
	perm    uint32
}

// walk resolves a path already returned by cleanPath on the file system.
func (h *Handler) walk(st *handlerState, p string) (Script, found, error) {
	viaLink := false
	if !strings.HasPrefix(p, st.prefix) {
		return Script{}, found{}, fmt.Errorf("%w: %q is outside %q", ErrNotFound, p, st.prefix)
	}
	rel := p[len(st.prefix):]
	// full is the file path of the whole request path; each walked prefix
	// of it is a substring, so the walk allocates no path strings.
	full := st.root + "/" + rel
	if st.root == "/" {
		full = "/" + rel
	}
	base := len(full) - len(rel)

	var fi fileInfo
	pos := 0
	for {
		if pos >= len(rel) {
			// Nothing after a directory: /cgi-bin/ or /cgi-bin/sub/.
			return Script{}, found{}, fmt.Errorf("%w: %s", ErrForbidden, full[:max(base+pos-1, len(st.root))])
		}
		end := strings.IndexByte(rel[pos:], '/')
		if end < 0 {
			end = len(rel)
		} else {
			end += pos
		}
		seg := rel[pos:end]
		if refusedName(seg) {
			return Script{}, found{}, fmt.Errorf("%w: hidden, backup or bytecode path segment %q", ErrNotFound, seg)
		}
		name := full[:base+end]
		if err := lstatFile(name, &fi); err != nil {
			return Script{}, found{}, statError(name, err)
		}
		if fi.mode == modeSymlink {
			viaLink = true
			if !h.FollowSymlinks {
				real, err := filepath.EvalSymlinks(name)
				if err != nil {
					return Script{}, found{}, statError(name, err)
				}
				if !within(st.realRoot, real) {
					return Script{}, found{}, fmt.Errorf("%w: symbolic link %s leaves %s", ErrNotFound, name, st.root)
				}
			}
			if err := statFile(name, &fi); err != nil {
				return Script{}, found{}, statError(name, err)
			}
		}
		if fi.perm&0o002 != 0 && !h.AllowWorldWritable && (fi.mode == modeDir || fi.mode == modeRegular) {
			return Script{}, found{}, fmt.Errorf("%w: %s is world-writable", ErrWritable, name)
		}
		switch fi.mode {
		case modeDir:
			pos = end + 1
			continue
		case modeRegular:
			if err := checkExec(name); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return Script{}, found{}, statError(name, err)
				}
				return Script{}, found{}, fmt.Errorf("%w: exec of %s failed: %v", ErrNotExecutable, name, err)
			}
			return Script{
				Filename: name,
				Name:     p[:len(st.prefix)+end],
				PathInfo: p[len(st.prefix)+end:],
				Stamp:    fi.stamp,
			}, found{viaLink: viaLink, ctime: fi.ctime, perm: fi.perm}, nil
		default:
			return Script{}, found{}, fmt.Errorf("%w: %s is not a regular file", ErrNotFound, name)
		}
	}
}

// refusedName reports whether a path segment names something that is
// never a script, whatever its permissions: a hidden file or directory
// (".env", ".git", ".htaccess", "..."), Python's bytecode directory, or
// one of the leftovers editors, merge tools, package managers and
// compilers put beside a file, which are often older copies of a script
// or its source under a name the server would otherwise run.
func refusedName(seg string) bool {
	if seg[0] == '.' || seg == "__pycache__" {
		return true
	}
	last := seg[len(seg)-1]
	if last == '~' || last == '#' && seg[0] == '#' && len(seg) > 1 {
		return true // "x.py~" (Emacs, Vim, joe), "#x.py#" (Emacs auto-save)
	}
	dot := strings.LastIndexByte(seg, '.')
	if dot < 0 || len(seg)-dot > len("dpkg-dist")+1 {
		return false
	}
	// Lower-case the suffix without allocating; names are matched
	// ignoring case, since "X.BAK" is as much a backup as "x.bak".
	var buf [len("dpkg-dist")]byte
	ext := buf[:len(seg)-dot-1]
	for i := range ext {
		c := seg[dot+1+i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		ext[i] = c
	}
	switch string(ext) {
	case "bak", "backup", "old", "orig", "rej", "save", "sav", "tmp", "temp", // editors, patch, merge tools
		"swp", "swo", "swn", "swx", // Vim swap files (".x.py.swp" is hidden too)
		"pyc", "pyo", // bytecode, which Python would even run
		"dpkg-old", "dpkg-new", "dpkg-dist", "dpkg-bak", "ucf-old", "ucf-new", "ucf-dist", // Debian
		"rpmnew", "rpmsave", "rpmorig": // RPM
		return true
	}
	return false
}

// statError maps a failed stat of a path segment to a resolution error.
func statError(name string, err error) error {
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%w: %s: %v", ErrForbidden, name, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrNotFound, name, err)
}

// within reports whether the cleaned absolute path p is root or below it.
func within(root, p string) bool {
	if root == "/" {
		return true
	}
	return p == root || strings.HasPrefix(p, root) && p[len(root)] == '/'
}

// cleanPath decodes an escaped absolute URL path once and normalises it as
// Apache does before mapping it to a file: repeated slashes merged, dot
// segments removed. See Resolve for the errors.
func cleanPath(escaped string) (string, error) {
	if escaped == "" || escaped[0] != '/' {
		return "", fmt.Errorf("%w: %q is not an absolute path", ErrBadPath, escaped)
	}
	p := escaped
	if strings.IndexByte(escaped, '%') >= 0 {
		var err error
		if p, err = decodePath(escaped); err != nil {
			return "", err
		}
	} else if i := strings.IndexAny(escaped, "\\\x00"); i >= 0 {
		return "", fmt.Errorf("%w: %q contains %q", ErrNotFound, escaped, escaped[i])
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p, nil // the common case: nothing to normalise
	}
	return removeDotSegments(p)
}

// decodePath percent-decodes an escaped path, refusing what Apache refuses
// (%2F, NUL) and, deliberately, backslashes.
func decodePath(s string) (string, error) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", fmt.Errorf("%w: invalid escape in %q", ErrBadPath, s)
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
			if c == '/' {
				return "", fmt.Errorf("%w: encoded slash in %q", ErrNotFound, s)
			}
		}
		if c == 0 || c == '\\' {
			return "", fmt.Errorf("%w: %q contains %q", ErrNotFound, s, c)
		}
		b = append(b, c)
	}
	return string(b), nil
}

// removeDotSegments merges repeated slashes and resolves "." and ".."
// segments of an absolute path. A trailing "/", ".", or ".." leaves a
// trailing slash, as RFC 3986 and Apache do (/a/b/.. is /a/).
func removeDotSegments(p string) (string, error) {
	out := make([]byte, 0, len(p))
	out = append(out, '/')
	for i := 1; i <= len(p); {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			j = len(p)
		} else {
			j += i
		}
		seg := p[i:j]
		switch seg {
		case "", ".":
			// Nothing to add; out already ends with '/'.
		case "..":
			if len(out) == 1 {
				return "", fmt.Errorf("%w: %q climbs above /", ErrBadPath, p)
			}
			k := bytes.LastIndexByte(out[:len(out)-1], '/')
			out = out[:k+1]
		default:
			out = append(out, seg...)
			if j < len(p) {
				out = append(out, '/')
			}
		}
		i = j + 1
	}
	return string(out), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
