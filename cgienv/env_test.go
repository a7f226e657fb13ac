package cgienv

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
)

// envRequestFor builds a server-side request as net/http would hand it to
// the handler, connected from 192.0.2.7:40000 to 198.51.100.1:8080.
func envRequestFor(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "192.0.2.7:40000"
	local := &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 8080}
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
}

func TestBuildEnv(t *testing.T) {
	root, _ := makeTree(t)
	t.Setenv("WARMCGI_CANARY", "secret-from-server-env")
	t.Setenv("TZ", "Europe/Paris")
	t.Setenv("LD_LIBRARY_PATH", "/opt/lib")
	t.Setenv("PATH", "/custom/bin:/bin")
	t.Setenv("HTTP_PROXY", "http://server-proxy:3128")
	t.Setenv("PATH_INFO", "/from-server")

	script := &Script{Filename: root + "/env.py", Name: "/cgi-bin/env.py"}
	withInfo := &Script{Filename: root + "/env.py", Name: "/cgi-bin/env.py", PathInfo: "/a b/c"}

	tests := []struct {
		name    string
		handler *Handler
		req     func() *http.Request
		script  *Script
		cl      int64
		want    map[string]string
		absent  []string
	}{
		{
			name: "every fixed variable",
			req:  func() *http.Request { return envRequestFor("GET", "http://example.com/cgi-bin/env.py") },
			want: map[string]string{
				"GATEWAY_INTERFACE":     "CGI/1.1",
				"SERVER_PROTOCOL":       "HTTP/1.1",
				"REQUEST_METHOD":        "GET",
				"QUERY_STRING":          "",
				"REQUEST_URI":           "http://example.com/cgi-bin/env.py",
				"SCRIPT_NAME":           "/cgi-bin/env.py",
				"SCRIPT_FILENAME":       root + "/env.py",
				"SERVER_NAME":           "example.com",
				"SERVER_PORT":           "80",
				"SERVER_ADDR":           "198.51.100.1",
				"REMOTE_ADDR":           "192.0.2.7",
				"REMOTE_PORT":           "40000",
				"DOCUMENT_ROOT":         root,
				"CONTEXT_PREFIX":        "/cgi-bin/",
				"CONTEXT_DOCUMENT_ROOT": root + "/",
				"SERVER_ADMIN":          "[no address given]",
				"SERVER_SIGNATURE":      "",
				"SERVER_SOFTWARE":       "warmcgi",
				"REQUEST_SCHEME":        "http",
				"HTTP_HOST":             "example.com",
				"PATH":                  "/custom/bin:/bin",
				"TZ":                    "Europe/Paris",
				"LD_LIBRARY_PATH":       "/opt/lib",
			},
			absent: []string{"PATH_INFO", "PATH_TRANSLATED", "CONTENT_LENGTH", "CONTENT_TYPE", "HTTPS",
				"REMOTE_USER", "AUTH_TYPE", "REMOTE_HOST", "REMOTE_IDENT", "HTTP_PROXY", "WARMCGI_CANARY",
				"HTTP_TRANSFER_ENCODING"},
		},
		{
			name: "configured server fields",
			handler: &Handler{Prefix: "scripts", DocumentRoot: "/srv/www/", ServerSoftware: "Apache/2.4.71 (Debian)",
				ServerSignature: "<address>x</address>", ServerAdmin: "root@example.com"},
			req:    func() *http.Request { return envRequestFor("GET", "/scripts/env.py/a%20b/c") },
			script: withInfo,
			want: map[string]string{
				"CONTEXT_PREFIX":   "/scripts/",
				"DOCUMENT_ROOT":    "/srv/www",
				"PATH_INFO":        "/a b/c",
				"PATH_TRANSLATED":  "/srv/www/a b/c",
				"SERVER_SOFTWARE":  "Apache/2.4.71 (Debian)",
				"SERVER_SIGNATURE": "<address>x</address>",
				"SERVER_ADMIN":     "root@example.com",
				"REQUEST_URI":      "/scripts/env.py/a%20b/c",
			},
		},
		{
			name:   "path translated under the default document root",
			req:    func() *http.Request { return envRequestFor("GET", "/cgi-bin/env.py/a%20b/c") },
			script: withInfo,
			want:   map[string]string{"PATH_TRANSLATED": root + "/a b/c"},
		},
		{
			name: "query and host port",
			req: func() *http.Request {
				r := envRequestFor("GET", "/cgi-bin/env.py?x=1&y=%20")
				r.Host = "Example.COM.:8081"
				return r
			},
			want: map[string]string{"QUERY_STRING": "x=1&y=%20", "SERVER_NAME": "example.com",
				"SERVER_PORT": "8081", "HTTP_HOST": "Example.COM.:8081", "REQUEST_URI": "/cgi-bin/env.py?x=1&y=%20"},
		},
		{
			name: "ipv6 host keeps brackets",
			req: func() *http.Request {
				r := envRequestFor("GET", "/cgi-bin/env.py")
				r.Host = "[::FFFF:1]:81"
				r.RemoteAddr = "[2001:db8::7]:5555"
				return r
			},
			want: map[string]string{"SERVER_NAME": "[::ffff:1]", "SERVER_PORT": "81",
				"REMOTE_ADDR": "2001:db8::7", "REMOTE_PORT": "5555"},
		},
		{
			name: "ipv6 host without port",
			req: func() *http.Request {
				r := envRequestFor("GET", "/cgi-bin/env.py")
				r.Host = "[::1]"
				return r
			},
			want: map[string]string{"SERVER_NAME": "[::1]", "SERVER_PORT": "80"},
		},
		{
			name:    "no host uses ServerName",
			handler: &Handler{ServerName: "www.example.org"},
			req: func() *http.Request {
				r := envRequestFor("GET", "/cgi-bin/env.py")
				r.Host, r.Proto, r.ProtoMajor, r.ProtoMinor = "", "HTTP/1.0", 1, 0
				return r
			},
			want:   map[string]string{"SERVER_NAME": "www.example.org", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.0"},
			absent: []string{"HTTP_HOST"},
		},
		{
			name: "no host falls back to the local address",
			req: func() *http.Request {
				r := envRequestFor("GET", "/cgi-bin/env.py")
				r.Host = ""
				return r
			},
			want: map[string]string{"SERVER_NAME": "198.51.100.1"},
		},
		{
			name: "tls",
			req: func() *http.Request {
				r := envRequestFor("GET", "https://secure.example/cgi-bin/env.py")
				r.TLS = &tls.ConnectionState{}
				r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
				return r
			},
			want: map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https", "SERVER_PORT": "443",
				"SERVER_PROTOCOL": "HTTP/2.0", "SERVER_NAME": "secure.example"},
		},
		{
			name: "headers",
			req: func() *http.Request {
				r := envRequestFor("POST", "/cgi-bin/env.py")
				r.Header["Cookie"] = []string{"a=1", "b=2"}
				r.Header["X-Rep"] = []string{"1", "2"}
				r.Header.Set("User-Agent", "curl/8")
				r.Header.Set("Accept-Language", "fr")
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Content-Length", "3")
				r.Header.Set("Transfer-Encoding", "chunked")
				r.Header.Set("Host", "spoofed.example")
				r.Header["X_under"] = []string{"u1"}
				r.Header["X.dot"] = []string{"d1"}
				r.Header["X-Space "] = []string{"s1"}
				return r
			},
			cl: 3,
			want: map[string]string{
				"HTTP_COOKIE":          "a=1, b=2",
				"HTTP_X_REP":           "1, 2",
				"HTTP_USER_AGENT":      "curl/8",
				"HTTP_ACCEPT_LANGUAGE": "fr",
				"CONTENT_TYPE":         "application/x-www-form-urlencoded",
				"CONTENT_LENGTH":       "3",
				"HTTP_HOST":            "example.com",
				"REQUEST_METHOD":       "POST",
			},
			absent: []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING",
				"HTTP_X_UNDER", "HTTP_X_DOT", "HTTP_X.DOT", "HTTP_X_SPACE_", "HTTP_X_SPACE "},
		},
		{
			name: "empty body still has a length",
			req:  func() *http.Request { return envRequestFor("POST", "/cgi-bin/env.py") },
			cl:   0,
			want: map[string]string{"CONTENT_LENGTH": "0"},
		},
		{
			name: "httpoxy",
			req: func() *http.Request {
				r := envRequestFor("GET", "/cgi-bin/env.py")
				r.Header.Set("Proxy", "http://evil.example:8080")
				return r
			},
			absent: []string{"HTTP_PROXY"},
		},
		{
			name: "authorization hidden",
			req: func() *http.Request {
				r := envRequestFor("GET", "/cgi-bin/env.py")
				r.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
				r.Header.Set("Proxy-Authorization", "Basic eDp5")
				return r
			},
			absent: []string{"HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "REMOTE_USER", "AUTH_TYPE"},
		},
		{
			name:    "authorization passed",
			handler: &Handler{PassAuthorization: true},
			req: func() *http.Request {
				r := envRequestFor("GET", "/cgi-bin/env.py")
				r.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
				r.Header.Set("Proxy-Authorization", "Basic eDp5")
				return r
			},
			want:   map[string]string{"HTTP_AUTHORIZATION": "Basic Zm9vOmJhcg==", "HTTP_PROXY_AUTHORIZATION": "Basic eDp5"},
			absent: []string{"REMOTE_USER", "AUTH_TYPE"},
		},
		{
			name:    "pass env",
			handler: &Handler{PassEnv: []string{"WARMCGI_CANARY", "NOT_SET_ANYWHERE", "HTTP_PROXY", "PATH_INFO"}},
			req:     func() *http.Request { return envRequestFor("GET", "/cgi-bin/env.py") },
			want:    map[string]string{"WARMCGI_CANARY": "secret-from-server-env", "PATH_INFO": "/from-server"},
			absent:  []string{"NOT_SET_ANYWHERE", "HTTP_PROXY"},
		},
		{
			name:    "request variables win over pass env",
			handler: &Handler{PassEnv: []string{"PATH_INFO"}},
			req:     func() *http.Request { return envRequestFor("GET", "/cgi-bin/env.py/a%20b/c") },
			script:  withInfo,
			want:    map[string]string{"PATH_INFO": "/a b/c"},
		},
		{
			name: "set env overrides and is cleaned",
			handler: &Handler{SetEnv: []string{"SERVER_NAME=canonical.example", "A.B=dotted", "9LIVES=cat",
				"HTTP_PROXY=http://set-proxy", "EMPTY", "TWICE=1", "TWICE=2", "WITH_EQ=a=b"}},
			req: func() *http.Request { return envRequestFor("GET", "/cgi-bin/env.py") },
			want: map[string]string{"SERVER_NAME": "canonical.example", "A_B": "dotted", "_LIVES": "cat",
				"EMPTY": "", "TWICE": "2", "WITH_EQ": "a=b"},
			absent: []string{"HTTP_PROXY", "A.B", "9LIVES"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.handler
			if h == nil {
				h = &Handler{}
			}
			h.Root = root
			h.Runner = &scripts{}
			s := tt.script
			if s == nil {
				s = script
			}
			cl := tt.cl
			if tt.want["CONTENT_LENGTH"] == "" {
				cl = -1
			}
			env := h.BuildEnv(tt.req(), s, cl)
			m := envMap(t, env)
			for k, v := range tt.want {
				if got, ok := m[k]; !ok || got != v {
					t.Errorf("%s = %q (set: %v); want %q", k, got, ok, v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := m[k]; ok {
					t.Errorf("%s = %q; want it absent", k, v)
				}
			}
			for k, v := range m {
				if strings.Contains(v, "secret-from-server-env") && k != "WARMCGI_CANARY" {
					t.Errorf("server canary leaked into %s", k)
				}
			}
		})
	}
}

func TestBuildEnvDefaultPath(t *testing.T) {
	root, _ := makeTree(t)
	t.Setenv("PATH", "") // restored after the test
	os.Unsetenv("PATH")
	h := &Handler{Root: root, Runner: &scripts{}}
	env := h.BuildEnv(envRequestFor("GET", "/cgi-bin/env.py"), &Script{Filename: root + "/env.py", Name: "/cgi-bin/env.py"}, -1)
	if got := envMap(t, env)["PATH"]; got != defaultPath {
		t.Errorf("PATH = %q; want Apache's default %q", got, defaultPath)
	}
}

func TestIndexArgs(t *testing.T) {
	many := strings.Repeat("w+", maxIndexArgs+10)
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{name: "shell metacharacters", query: "foo%3Bbar+x%26y+%24HOME", want: []string{`foo\;bar`, `x\&y`, `\$HOME`}},
		{name: "assignment means none", query: "a=b+c", want: nil},
		{name: "assignment anywhere", query: "a+b=c", want: nil},
		{name: "empty", query: "", want: nil},
		{name: "one word", query: "hello", want: []string{"hello"}},
		{name: "encoded equals counts as a word", query: "a%3Db", want: []string{"a=b"}},
		{name: "empty words kept", query: "a++b+", want: []string{"a", "", "b", ""}},
		{name: "apache decoding", query: "a+%2F+%00x+%zz+b%20c+%2", want: []string{"a", "/", "", "%zz", "b c", "%2"}},
		{name: "every metacharacter", query: "%26%3B%60%27%22%7C%2A%3F%7E%3C%3E%5E%28%29%5B%5D%7B%7D%24%5C%0A",
			want: []string{"\\&\\;\\`\\'\\\"\\|\\*\\?\\~\\<\\>\\^\\(\\)\\[\\]\\{\\}\\$\\\\\\\n"}},
		{name: "harmless punctuation", query: "a.b-c_d%2C%40%25%21%23", want: []string{"a.b-c_d,@%!#"}},
		{name: "plus encoded", query: "1%2B1", want: []string{"1+1"}},
		{name: "utf-8", query: "%C3%A9t%C3%A9", want: []string{"été"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IndexArgs(tt.query); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("IndexArgs(%q) = %q; want %q", tt.query, got, tt.want)
			}
		})
	}
	t.Run("capped like apache", func(t *testing.T) {
		if got := IndexArgs(many); len(got) != maxIndexArgs {
			t.Errorf("len(IndexArgs(%d words)) = %d; want %d", maxIndexArgs+11, len(got), maxIndexArgs)
		}
	})
}

func BenchmarkBuildEnv(b *testing.B) {
	root := b.TempDir()
	h := &Handler{Root: root, Runner: runnerFunc(nil), PassEnv: []string{"HOME"}, SetEnv: []string{"APP_MODE=prod"}}
	r := envRequestFor("POST", "/cgi-bin/form.py/extra?name=value&x=1")
	r.Host = "www.example.com:8080"
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
	r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	r.Header.Set("Accept-Language", "en-US,en;q=0.5")
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Content-Length", "27")
	r.Header["Cookie"] = []string{"session=0123456789abcdef", "theme=dark"}
	r.Header.Set("Referer", "http://www.example.com:8080/form.html")
	s := &Script{Filename: root + "/form.py", Name: "/cgi-bin/form.py", PathInfo: "/extra"}
	h.BuildEnv(r, s, 27) // initialise the handler outside the timed loop
	b.ReportAllocs()
	for b.Loop() {
		h.BuildEnv(r, s, 27)
	}
}
