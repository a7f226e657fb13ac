package frontend

import (
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// list sends the listing of the directory rel below Root, byte for byte
// the page of http.server's list_directory (Python 3.11.2 and later; with
// ColorScheme, 3.14's), hidden entries left out since they are refused.
func (s *Static) list(w http.ResponseWriter, r *http.Request, rel string) {
	d, err := s.root.Open(rel)
	if err != nil {
		s.fail(w, r, http.StatusNotFound) // http.server: "No permission to list directory"
		return
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		s.fail(w, r, http.StatusNotFound)
		return
	}
	names := make([]string, 0, len(entries))
	kinds := make(map[string]fs.FileMode, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".well-known" {
			continue
		}
		names = append(names, e.Name())
		kinds[e.Name()] = e.Type()
	}
	sortNames(names)
	// The title is the request-target's path as sent, decoded, without its
	// query (as current http.server: 3.13.5, 3.11.2 still showed the query).
	target, _, _ := strings.Cut(r.RequestURI, "?")
	title := "Directory listing for " + escapeText(unquote(target))
	var b strings.Builder
	b.WriteString("<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	if s.ColorScheme {
		b.WriteString("<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n")
	}
	b.WriteString("<title>")
	b.WriteString(title + "</title>\n</head>\n<body>\n<h1>" + title + "</h1>\n<hr>\n<ul>\n")
	for _, name := range names {
		display, link := name, name
		if fi, err := s.root.Stat(path.Join(rel, name)); err == nil && fi.IsDir() {
			display, link = name+"/", name+"/"
		}
		if kinds[name]&fs.ModeSymlink != 0 {
			display = name + "@" // a link to a directory shows @ and links with /
		}
		b.WriteString("<li><a href=\"" + quote(link) + "\">" + escapeText(display) + "</a></li>\n")
	}
	b.WriteString("</ul>\n<hr>\n</body>\n</html>\n")
	page := b.String()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	contentLength(h, len(page))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		io.WriteString(w, page)
	}
}

// escapeText is Python's html.escape(s, quote=False).
var escapeText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// quote is Python's urllib.parse.quote(s): every byte but letters, digits,
// "_.-~" and "/" percent-encoded.
func quote(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// unquote is Python's urllib.parse.unquote: valid %XX escapes decoded, the
// rest (and '+') kept as sent.
func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			b.WriteByte(unhexDigit(s[i+1])<<4 | unhexDigit(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhexDigit(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
