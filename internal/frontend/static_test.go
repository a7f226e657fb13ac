package frontend

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatic: the document root's guards and http.server's shapes, in
// process (the end-to-end tests are cmd/warmcgi's TestHTTPDifferential
// and TestServeStatic).
func TestStatic(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "www")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{
		"www/a.txt": "A", "www/cgi-bin/s.py": "SOURCE", "www/d/x.bin": "X", "www/.env": "SECRET",
		"www/.well-known/t.txt": "T", "www/noext": "N", "outside": "OUT",
	} {
		must(os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		must(os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	must(os.Symlink("cgi-bin", filepath.Join(root, "alias")))
	must(os.Symlink("../outside", filepath.Join(root, "out")))
	must(os.Symlink(filepath.Join(root, "cgi-bin", "s.py"), filepath.Join(root, "d", "index.html")))
	st := &Static{Root: root, Listing: true, Scripts: []string{filepath.Join(root, "cgi-bin")}}
	cgi := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "CGI "+r.URL.Path) })
	h := Site(st, []Mount{{Prefix: "/cgi-bin/", Handler: cgi}})

	for _, c := range []struct {
		method, target string
		status         int
		body, ctype    string // body: a substring; "" checks nothing
	}{
		{"GET", "/a.txt", 200, "A", "text/plain"},
		{"GET", "/noext", 200, "N", "application/octet-stream"},
		{"GET", "/cgi-bin/s.py", 200, "CGI /cgi-bin/s.py", ""},
		{"GET", "/x/../cgi-bin/s.py", 200, "CGI ", ""}, // routed after cleaning
		{"GET", "/cgi-bin", 301, "", ""},
		{"GET", "/alias/s.py", 403, "", ""}, // the scripts by another path
		{"GET", "/d/", 403, "", ""},         // an index that is a script: refused, not listed
		{"GET", "/out", 403, "", ""},        // a link out of the root
		{"GET", "/.env", 404, "", ""},       // hidden
		{"GET", "/.well-known/t.txt", 200, "T", "text/plain"},
		{"GET", "/../outside", 404, "", ""}, // ".." stays inside
		{"GET", "/", 200, `<a href="d/">d/</a>`, "text/html; charset=utf-8"},
		{"POST", "/a.txt", 405, "", ""},
	} {
		req := httptest.NewRequest(c.method, "http://x"+c.target, nil)
		req.URL.Path = strings.SplitN(c.target, "?", 2)[0] // keep ".." as sent
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != c.status || !strings.Contains(body, c.body) || c.ctype != "" && rec.Header().Get("Content-Type") != c.ctype {
			t.Errorf("%s %s: %d %q %q, want %d %q %q", c.method, c.target, rec.Code, rec.Header().Get("Content-Type"), body, c.status, c.ctype, c.body)
		}
		for _, secret := range []string{"SOURCE", "SECRET", "OUT"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s %s shows %q", c.method, c.target, secret)
			}
		}
	}
	// The listing leaves hidden entries out and marks links.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if b := rec.Body.String(); strings.Contains(b, ".env") || !strings.Contains(b, `<a href="alias/">alias@</a>`) || !strings.Contains(b, `.well-known/`) {
		t.Errorf("listing:\n%s", b)
	}
}

// TestQuote: Python's urllib.parse.quote and unquote, as the listing uses them.
func TestQuote(t *testing.T) {
	if got := quote("a b&<é/~_.-"); got != "a%20b%26%3C%C3%A9/~_.-" {
		t.Errorf("quote: %q", got)
	}
	if got := unquote("/x%41%zz%4+y%"); got != "/xA%zz%4+y%" {
		t.Errorf("unquote: %q", got)
	}
}

// TestListingColorScheme: a listing is byte for byte http.server's page
// of either generation, 3.11-3.13's and, with ColorScheme, 3.14's (whose
// head adds a color-scheme style); cmd/warmcgi's TestHTTPDifferential
// compares with the http.server of the Python in use.
func TestListingColorScheme(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a b.txt"), []byte("A"), 0o644); err != nil {
		t.Fatal(err)
	}
	const head = "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	const style = "<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n"
	const rest = "<title>Directory listing for /</title>\n</head>\n<body>\n<h1>Directory listing for /</h1>\n" +
		"<hr>\n<ul>\n<li><a href=\"a%20b.txt\">a b.txt</a></li>\n</ul>\n<hr>\n</body>\n</html>\n"
	for _, c := range []struct {
		colorScheme bool
		want        string
	}{{false, head + rest}, {true, head + style + rest}} {
		st := &Static{Root: root, Listing: true, ColorScheme: c.colorScheme}
		rec := httptest.NewRecorder()
		st.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if got := rec.Body.String(); rec.Code != 200 || got != c.want {
			t.Errorf("ColorScheme %v: %d\n%s\nwant:\n%s", c.colorScheme, rec.Code, got, c.want)
		}
	}
}
