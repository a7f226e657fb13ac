package frontend

// Static files served beside the scripts (serve --static DIR, warmcgi
// http): a document root as python3 -m http.server serves it, with the
// guards a server facing a network needs.

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

// indexFiles are served for a directory, the first that exists, as by
// http.server (Apache's DirectoryIndex has index.html alone).
var indexFiles = []string{"index.html", "index.htm"}

// Static serves the files below Root for GET and HEAD, the way
// python3 -m http.server does: a directory's index file, else a listing
// (or 403), a 301 to add the slash a directory needs, Content-Type from
// the file name alone, Last-Modified and If-Modified-Since; and, through
// http.ServeContent, ranges (206) and If-Range. Unlike http.server it
// never serves a file of a script directory (Scripts), never follows a
// symbolic link out of Root (403), and refuses hidden files and
// directories (404; .well-known excepted).
//
// The fields are read on the first request; do not change them after.
type Static struct {
	// Root is the document root (an existing directory).
	Root string
	// Listing lists a directory without an index file, as http.server
	// does; false answers 403, as Apache without Options Indexes.
	Listing bool
	// ColorScheme adds to a listing's head the style block declaring
	// "color-scheme: light dark" that http.server's listing has from
	// Python 3.14 on, so the page is the one of the Python in use.
	ColorScheme bool
	// Scripts are directories whose files are scripts, never content: a
	// request that reaches one of them, by any path, gets 403.
	Scripts []string
	// Error writes the error page for a status; nil: a plain-text one.
	Error func(w http.ResponseWriter, r *http.Request, status int)
	// Observe, when not nil, is told of every request answered, for the
	// access log and metrics (info.Script is empty).
	Observe func(r *http.Request, info *cgienv.RequestInfo)
	// Logger receives a record per request (at RequestLogLevel, as
	// cgienv.Handler's) and refusals worth a look (a link leaving Root, a
	// path into a script directory). Nil discards them.
	Logger          *slog.Logger
	RequestLogLevel slog.Level

	once        sync.Once
	root        *os.Root // opens only what lies below Root, links included
	rootErr     error
	realRoot    string
	realScripts []string
}

func (s *Static) init() {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.root, s.rootErr = os.OpenRoot(s.Root)
	s.realRoot = realPath(s.Root)
	for _, d := range s.Scripts {
		s.realScripts = append(s.realScripts, realPath(d))
	}
}

// realPath resolves the symbolic links of p, or of its longest existing
// parent when p does not exist (yet).
func realPath(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p
	}
	return filepath.Join(realPath(parent), filepath.Base(p))
}

// ServeHTTP answers a request for a file, a directory or its index.
func (s *Static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.init)
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	info := cgienv.RequestInfo{Start: time.Now(), RemoteAddr: r.RemoteAddr}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		info.RemoteAddr = host
	}
	s.serve(rec, r)
	info.Duration, info.Status, info.Bytes = time.Since(info.Start), rec.status, rec.n
	s.Logger.LogAttrs(r.Context(), s.RequestLogLevel, "request", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", info.Status), slog.Duration("duration", info.Duration))
	if s.Observe != nil {
		s.Observe(r, &info)
	}
}

func (s *Static) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// http.server answers 501 "Can only POST to CGI scripts" (and
		// 501 to other methods); 405 with Allow is what HTTP means.
		w.Header().Set("Allow", "GET, HEAD")
		s.fail(w, r, http.StatusMethodNotAllowed)
		return
	}
	upath := r.URL.Path
	if upath == "" || upath[0] != '/' || strings.IndexByte(upath, 0) >= 0 {
		s.fail(w, r, http.StatusBadRequest)
		return
	}
	// Clean before the file system sees it: ".." cannot climb above "/",
	// so "/../x" is "/x", as http.server's translate_path makes it.
	rel := strings.TrimPrefix(path.Clean(upath), "/")
	if hiddenPath(rel) {
		s.fail(w, r, http.StatusNotFound)
		return
	}
	if rel == "" {
		rel = "."
	}
	fi, status := s.check(r, rel)
	if status != 0 {
		s.fail(w, r, status)
		return
	}
	if !fi.IsDir() {
		if strings.HasSuffix(upath, "/") || !fi.Mode().IsRegular() {
			s.fail(w, r, http.StatusNotFound) // "/file.txt/": http.server's 404 too
			return
		}
		s.serveFile(w, r, rel)
		return
	}
	if !strings.HasSuffix(upath, "/") {
		redirectSlash(w, r)
		return
	}
	for _, index := range indexFiles {
		name := path.Join(rel, index)
		ifi, status := s.check(r, name)
		if status == http.StatusNotFound || status == 0 && !ifi.Mode().IsRegular() {
			continue
		}
		if status != 0 {
			s.fail(w, r, status)
			return
		}
		s.serveFile(w, r, name)
		return
	}
	if !s.Listing {
		s.fail(w, r, http.StatusForbidden)
		return
	}
	s.list(w, r, rel)
}

// check finds what the slash-separated path rel below Root is, refusing
// links that leave Root and anything inside a script directory: 0, or the
// status to answer.
func (s *Static) check(r *http.Request, rel string) (fs.FileInfo, int) {
	if s.rootErr != nil {
		s.Logger.Error("static files", "dir", s.Root, "err", s.rootErr)
		return nil, http.StatusNotFound
	}
	name := filepath.Join(s.Root, filepath.FromSlash(rel))
	real, err := filepath.EvalSymlinks(name)
	if err != nil {
		return nil, statStatus(err)
	}
	if !within(s.realRoot, real) {
		s.Logger.Warn("static file refused: a symbolic link leaves the document root",
			"path", r.URL.Path, "file", name, "target", real, "root", s.Root)
		return nil, http.StatusForbidden
	}
	for _, d := range s.realScripts {
		if within(d, real) {
			s.Logger.Warn("static file refused: it lies in a script directory, and a script's source is never served",
				"path", r.URL.Path, "file", real, "scripts", d)
			return nil, http.StatusForbidden
		}
	}
	fi, err := s.root.Stat(rel)
	if err != nil {
		return nil, statStatus(err)
	}
	return fi, 0
}

// statStatus is the status for a failed look-up: 403 where the server may
// not look, 404 otherwise (a link escaping a link's target included).
func statStatus(err error) int {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES) {
		return http.StatusForbidden
	}
	return http.StatusNotFound
}

// within reports whether the cleaned absolute path p is dir or below it.
func within(dir, p string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir) && p[len(dir)] == '/'
}

// hiddenPath reports whether a segment of the cleaned relative path
// starts with a dot: .git, .env, .htpasswd are not for clients (http.server
// serves them). .well-known (RFC 8615) is public by definition.
func hiddenPath(rel string) bool {
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, ".") && seg != ".well-known" {
			return true
		}
	}
	return false
}

// serveFile sends the regular file rel through http.ServeContent, which
// answers If-Modified-Since, If-Range and Range.
func (s *Static) serveFile(w http.ResponseWriter, r *http.Request, rel string) {
	f, err := s.root.Open(rel) // os.Root: a link swapped in meanwhile cannot lead out
	if err != nil {
		s.fail(w, r, statStatus(err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		s.fail(w, r, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", contentType(rel))
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// pyTypes are the types http.server's SimpleHTTPRequestHandler sets itself
// before it asks the mimetypes module.
var pyTypes = map[string]string{
	".gz": "application/gzip", ".Z": "application/octet-stream",
	".bz2": "application/x-bzip2", ".xz": "application/x-xz",
}

// contentType guesses the type from the name alone, as http.server does
// (Go's table and /etc/mime.types; application/octet-stream when
// unknown), without the charset Go adds to text types: the file's own
// <meta charset> must not be overridden by a guess (Apache's
// AddDefaultCharset Off).
func contentType(name string) string {
	ext := path.Ext(name)
	if t, ok := pyTypes[ext]; ok {
		return t
	}
	t := mime.TypeByExtension(ext)
	if t == "" {
		return "application/octet-stream"
	}
	mt, params, err := mime.ParseMediaType(t)
	if err != nil {
		return t
	}
	delete(params, "charset")
	return mime.FormatMediaType(mt, params)
}

// redirectSlash sends a directory's URL without its slash to the one with
// it (http.server's 301 with an empty body).
func redirectSlash(w http.ResponseWriter, r *http.Request) {
	loc := r.URL.EscapedPath() + "/"
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusMovedPermanently)
}

func (s *Static) fail(w http.ResponseWriter, r *http.Request, status int) {
	if s.Error != nil {
		s.Error(w, r, status)
		return
	}
	http.Error(w, http.StatusText(status), status)
}

// recorder notes the status and the body bytes of a response.
type recorder struct {
	http.ResponseWriter
	status int
	n      int64
	wrote  bool
}

func (rc *recorder) WriteHeader(status int) {
	if !rc.wrote {
		rc.status, rc.wrote = status, true
	}
	rc.ResponseWriter.WriteHeader(status)
}

func (rc *recorder) Write(p []byte) (int, error) {
	rc.wrote = true
	n, err := rc.ResponseWriter.Write(p)
	rc.n += int64(n)
	return n, err
}

// ReadFrom keeps the connection's own ReadFrom (sendfile) for
// http.ServeContent's copy.
func (rc *recorder) ReadFrom(src io.Reader) (int64, error) {
	rc.wrote = true
	n, err := io.Copy(rc.ResponseWriter, src)
	rc.n += n
	return n, err
}

// sortNames orders a listing as http.server does: by the lower-cased name.
func sortNames(names []string) {
	slices.SortStableFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
}

// contentLength sets the header for a body of n bytes.
func contentLength(h http.Header, n int) { h.Set("Content-Length", strconv.Itoa(n)) }
