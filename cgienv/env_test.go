package cgienv

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"strconv"
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

// FuzzBuildEnv parses a fuzzed request with the parser the server uses
// and checks that the environment built from it is well formed and leaks
// nothing it must not: no entry holds a NUL (which would split the
// block pyhost receives into extra variables), every name is one a shell
// accepts, none appears twice, HTTP_* comes only from valid header names,
// Proxy, Authorization and a client's REMOTE_USER never get through, and
// X-Forwarded-* change REMOTE_ADDR and HTTPS only behind a trusted peer.
func FuzzBuildEnv(f *testing.F) {
	root, _ := makeTree(f)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	handlers := map[bool]*Handler{
		false: {Root: root, Runner: &scripts{}, TrustedProxies: trusted, SetEnv: []string{"APP=1"}},
		true:  {Root: root, Runner: &scripts{}, TrustedProxies: trusted, PassAuthorization: true},
	}
	for _, seed := range []struct {
		target, headers, peer string
		passAuth              bool
	}{
		{"/cgi-bin/env.py", "User-Agent: x\r\n", "192.0.2.7:40000", false},
		{"/cgi-bin/env.py/a%20b?x=1&y", "Cookie: a=1\r\nCookie: b=2\r\n", "10.0.0.5:1", false},
		{"/cgi-bin/env.py?isindex+word", "Proxy: http://evil:8080\r\nAuthorization: Basic Zm9vOmJhcg==\r\n", "10.0.0.5:1", true},
		{"/cgi-bin/env.py", "X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\nX-Forwarded-Proto: https\r\n", "10.0.0.5:1", false},
		{"/cgi-bin/env.py", "X-Forwarded-For: [2001:db8::1]:80\r\nX-Forwarded-Host: a.example:8443\r\nX-Forwarded-Port: 1\r\n", "[::1]:2", false},
		{"/cgi-bin/env.py", "X_Forwarded_For: 1.2.3.4\r\nX-Forwarded-For: garbage\r\n", "10.0.0.5:1", false},
		{"http://example.com:81/cgi-bin/env.py", "Content-Type: text/plain\r\nContent-Length: 0\r\n", "192.0.2.7:4", false},
		{"/cgi-bin/env.py", "Remote-User: admin\r\nAuth-Type: Basic\r\nHTTP_PROXY: x\r\n", "10.0.0.5:1", false},
		{"/cgi-bin/env.py", "Transfer-Encoding: chunked\r\nHost: [::1]:8\r\n", "192.0.2.7:4", false},
	} {
		f.Add(seed.target, seed.headers, seed.peer, seed.passAuth)
	}
	nameOK := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerNameOK := regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	f.Fuzz(func(t *testing.T, target, headers, peer string, passAuth bool) {
		raw := "GET " + target + " HTTP/1.1\r\nHost: backend\r\n" + headers + "\r\n"
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // the server answers 400 before any handler runs
		}
		ap, err := netip.ParseAddrPort(peer)
		if err != nil {
			return // net/http sets RemoteAddr from the socket: always ip:port
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		r.RemoteAddr = ap.String() // in net.TCPAddr's canonical form
		s := &Script{Filename: root + "/env.py", Name: "/cgi-bin/env.py"}
		if got, err := handlers[false].Resolve(r.URL.EscapedPath()); err == nil {
			s = &got
		}
		env := handlers[passAuth].BuildEnv(r, s, -1)

		// Names each valid request header may become.
		fromHeaders := map[string]bool{}
		for k := range r.Header {
			if headerNameOK.MatchString(k) {
				fromHeaders["HTTP_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))] = true
			}
		}
		m := map[string]string{}
		for _, e := range env {
			name, value, ok := strings.Cut(e, "=")
			if !ok || !nameOK.MatchString(name) {
				t.Fatalf("malformed entry %q", e)
			}
			if strings.IndexByte(value, 0) >= 0 {
				t.Fatalf("entry %q holds a NUL", e)
			}
			if _, dup := m[name]; dup {
				t.Fatalf("%s appears twice", name)
			}
			m[name] = value
			if strings.HasPrefix(name, "HTTP_") && name != "HTTP_HOST" && !fromHeaders[name] {
				t.Fatalf("%s=%q comes from no valid header name (headers %q)", name, value, r.Header)
			}
		}
		for _, never := range []string{"HTTP_PROXY", "REMOTE_USER", "AUTH_TYPE", "HTTP_TRANSFER_ENCODING", "HTTP_CONTENT_LENGTH"} {
			if v, ok := m[never]; ok {
				t.Fatalf("%s=%q is set", never, v)
			}
		}
		if _, ok := m["HTTP_AUTHORIZATION"]; ok && !passAuth {
			t.Fatal("HTTP_AUTHORIZATION set without PassAuthorization")
		}
		if v, ok := m["HTTPS"]; ok && v != "on" {
			t.Fatalf("HTTPS=%q", v)
		}
		if scheme := m["REQUEST_SCHEME"]; scheme != map[bool]string{true: "https", false: "http"}[m["HTTPS"] == "on"] {
			t.Fatalf("REQUEST_SCHEME=%q with HTTPS=%q", scheme, m["HTTPS"])
		}
		trustedPeer := false
		for _, p := range trusted {
			trustedPeer = trustedPeer || p.Contains(ap.Addr().Unmap())
		}
		if !trustedPeer {
			if m["REMOTE_ADDR"] != ap.Addr().String() {
				t.Fatalf("REMOTE_ADDR=%q from untrusted peer %s", m["REMOTE_ADDR"], peer)
			}
			if m["HTTPS"] != "" {
				t.Fatalf("HTTPS=%q over plain HTTP from an untrusted peer", m["HTTPS"])
			}
			return
		}
		if _, err := netip.ParseAddr(m["REMOTE_ADDR"]); err != nil {
			t.Fatalf("REMOTE_ADDR=%q is no IP address: %v", m["REMOTE_ADDR"], err)
		}
	})
}

// TestBuildEnvManyHeaders: an environment with more entries than
// envWriter keeps in its array holds every one of them, whole.
func TestBuildEnvManyHeaders(t *testing.T) {
	root, _ := makeTree(t)
	r := envRequestFor("GET", "http://example.com/cgi-bin/env.py")
	for i := range 300 {
		r.Header.Set(fmt.Sprintf("X-H%03d", i), strings.Repeat("v", i%7)+strconv.Itoa(i))
	}
	h := &Handler{Root: root}
	env := envMap(t, h.BuildEnv(r, &Script{Filename: root + "/env.py", Name: "/cgi-bin/env.py"}, -1))
	for i := range 300 {
		name, want := fmt.Sprintf("HTTP_X_H%03d", i), strings.Repeat("v", i%7)+strconv.Itoa(i)
		if env[name] != want {
			t.Fatalf("%s = %q, want %q", name, env[name], want)
		}
	}
	if env["SCRIPT_NAME"] != "/cgi-bin/env.py" || env["REQUEST_METHOD"] != "GET" {
		t.Errorf("SCRIPT_NAME %q, REQUEST_METHOD %q", env["SCRIPT_NAME"], env["REQUEST_METHOD"])
	}
}
