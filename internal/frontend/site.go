package frontend

import (
	"net/http"
	"path"
	"strings"
)

// Mount is a script directory's URL prefix ("/cgi-bin/") and the handler
// that runs its scripts.
type Mount struct {
	Prefix  string
	Handler http.Handler
}

// Site serves each mount's scripts under its prefix and every other path
// from static, as Apache's ScriptAlias beside a DocumentRoot and
// http.server's cgi_directories. The path is routed after "." and ".."
// segments and repeated slashes are removed, so "/x/../cgi-bin/a.py" runs
// the script rather than reaching static; a prefix without its slash
// ("/cgi-bin") is sent to the prefix with a 301, as http.server does.
func Site(static http.Handler, mounts []Mount) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		clean := path.Clean("/" + p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		for _, m := range mounts {
			switch {
			case strings.HasPrefix(clean, m.Prefix):
				m.Handler.ServeHTTP(w, r)
				return
			case clean+"/" == m.Prefix:
				redirectSlash(w, r)
				return
			}
		}
		static.ServeHTTP(w, r)
	})
}
