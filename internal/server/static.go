package server

// Static files beside the scripts (--static, warmcgi http): checks at
// start-up and the routing of paths between scripts and files.

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/frontend"
)

// scriptHandlers is every script directory's handler, the main one first.
func (s *Server) scriptHandlers() []*cgienv.Handler {
	return append([]*cgienv.Handler{s.cgi}, s.c.MoreScripts...)
}

// servedDir is the directory checked for permissions and reachability:
// DIR, or the document root while a static site has no script directory.
func (s *Server) servedDir() string {
	if s.c.Static != nil {
		if _, err := os.Stat(s.cgi.Root); err != nil {
			return s.c.Static.Root
		}
	}
	return s.cgi.Root
}

// checkStatic checks the document root and hands it what it must refuse
// (the script directories) and how to answer (the CGI layer's error
// pages).
func (s *Server) checkStatic() error {
	st := s.c.Static
	if st == nil {
		return nil
	}
	fi, err := os.Stat(st.Root)
	if err != nil {
		return &UsageError{Err: err}
	}
	if !fi.IsDir() {
		return usage("--static %s is not a directory", st.Root)
	}
	if fi.Mode().Perm()&0o002 != 0 && !s.c.Security.AllowWorldWritable {
		return usage("refusing to serve %s: every user may write to it (chmod o-w, or pass --allow-world-writable)", st.Root)
	}
	st.Scripts = nil
	for _, h := range s.scriptHandlers() {
		if strings.Trim(h.Prefix, "/") == "" {
			return usage("--static needs a --prefix other than /: every path would be a script's")
		}
		if under(st.Root, h.Root) {
			return usage("--static %s lies in the script directory %s: its files would be scripts", st.Root, h.Root)
		}
		st.Scripts = append(st.Scripts, h.Root)
		if _, err := os.Stat(h.Root); err != nil {
			s.log.Info("no script directory (yet): its URLs answer 404 until it exists", "dir", h.Root, "prefix", h.Prefix)
		}
	}
	st.Error = s.cgi.WriteError
	st.Logger = s.log
	// Listings are http.server's page of the embedded Python's version.
	st.ColorScheme = pythonAtLeast(backend.PythonVersion(), 3, 14)
	return nil
}

// pythonAtLeast reports whether the version line v ("3.14.0 (main, ...")
// names Python major.minor or later; false when it cannot be read.
func pythonAtLeast(v string, major, minor int) bool {
	num, _, _ := strings.Cut(v, " ")
	parts := strings.SplitN(num, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(parts[0])
	// The minor number may carry a suffix in a development build ("15a1").
	mnr, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}

// under reports whether p is dir or below it, symbolic links resolved.
func under(p, dir string) bool {
	rp, err1 := filepath.EvalSymlinks(p)
	rd, err2 := filepath.EvalSymlinks(dir)
	if err1 != nil || err2 != nil {
		rp, rd = filepath.Clean(p), filepath.Clean(dir)
	}
	return rp == rd || strings.HasPrefix(rp, rd+"/")
}

// site is the HTTP handler: the CGI handler alone, or the script
// directories and the static files routed by path.
func (s *Server) site() http.Handler {
	if s.c.Static == nil && len(s.c.MoreScripts) == 0 {
		return s.cgi
	}
	var mounts []frontend.Mount
	for _, h := range s.scriptHandlers() {
		mounts = append(mounts, frontend.Mount{Prefix: h.Prefix, Handler: h})
	}
	var static http.Handler = s.cgi // answers 404 outside its prefix
	if s.c.Static != nil {
		static = s.c.Static
	}
	return frontend.Site(static, mounts)
}
