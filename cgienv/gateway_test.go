package cgienv

import "testing"

// TestBuildEnvGateway: a FastCGI front end's server address, name and port
// replace what the Host header and the connection say, and its extra
// variables join the environment without replacing any of the handler's.
func TestBuildEnvGateway(t *testing.T) {
	root, _ := makeTree(t)
	t.Setenv("PATH", "/server/bin")
	h := &Handler{Root: root, Runner: runnerFunc(nil), SetEnv: []string{"SITE=ours"}}
	s := &Script{Filename: root + "/env.py", Name: "/cgi-bin/env.py"}
	g := &Gateway{
		ServerName: "www.example.org", ServerAddr: "203.0.113.5", ServerPort: "8443",
		Env: []string{
			"REMOTE_USER=ann", "DOCUMENT_URI=/cgi-bin/env.py", "SSL_CIPHER=X",
			"SCRIPT_FILENAME=/etc/passwd", "PATH_INFO=/evil", "HTTP_X_EVIL=1",
			"REDIRECT_STATUS=200", "PATH=/front/bin", "SITE=theirs", "BAD-NAME=1", "NOEQUALS",
		},
	}
	r := envRequestFor("GET", "http://127.0.0.1/cgi-bin/env.py")
	r = r.WithContext(WithGateway(r.Context(), g))
	env := envMap(t, h.BuildEnv(r, s, -1))
	want := map[string]string{
		"SERVER_NAME": "www.example.org", "SERVER_ADDR": "203.0.113.5", "SERVER_PORT": "8443",
		"HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "192.0.2.7",
		"REMOTE_USER": "ann", "DOCUMENT_URI": "/cgi-bin/env.py", "SSL_CIPHER": "X",
		"SCRIPT_FILENAME": root + "/env.py", "PATH": "/server/bin", "SITE": "ours",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"PATH_INFO", "HTTP_X_EVIL", "REDIRECT_STATUS", "BAD-NAME", "NOEQUALS"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s=%q set from the front end", k, v)
		}
	}

	// Without a server address from the front end, SERVER_ADDR is left
	// out rather than taken from the FastCGI connection.
	g2 := &Gateway{ServerPort: "80"}
	r2 := envRequestFor("GET", "http://127.0.0.1:8080/cgi-bin/env.py")
	env = envMap(t, h.BuildEnv(r2.WithContext(WithGateway(r2.Context(), g2)), s, -1))
	if v, ok := env["SERVER_ADDR"]; ok || env["SERVER_PORT"] != "80" || env["SERVER_NAME"] != "127.0.0.1" {
		t.Errorf("SERVER_ADDR=%q (%v) SERVER_PORT=%q SERVER_NAME=%q; want unset, 80, 127.0.0.1",
			v, ok, env["SERVER_PORT"], env["SERVER_NAME"])
	}
}
