package cgienv

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"testing"
)

func TestBuildEnvTrustedProxy(t *testing.T) {
	root, _ := makeTree(t)
	script := &Script{Filename: root + "/env.py", Name: "/cgi-bin/env.py"}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}

	tests := []struct {
		name    string
		trusted []netip.Prefix // nil: the two networks above
		peer    string         // RemoteAddr; empty: 10.0.0.5:40000
		tls     bool
		header  http.Header
		want    map[string]string
		absent  []string
	}{
		{
			name:    "no trusted proxies: headers are only variables",
			trusted: []netip.Prefix{},
			header:  http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"www.example.com"}},
			want: map[string]string{"REMOTE_ADDR": "10.0.0.5", "REQUEST_SCHEME": "http", "SERVER_NAME": "backend",
				"SERVER_PORT": "80", "HTTP_X_FORWARDED_FOR": "203.0.113.9", "HTTP_X_FORWARDED_PROTO": "https",
				"HTTP_X_FORWARDED_HOST": "www.example.com"},
			absent: []string{"HTTPS"},
		},
		{
			name:   "untrusted peer",
			peer:   "192.0.2.7:40000",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}},
			want:   map[string]string{"REMOTE_ADDR": "192.0.2.7", "REQUEST_SCHEME": "http", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},
			absent: []string{"HTTPS"},
		},
		{
			name:   "one proxy",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9"}},
			want: map[string]string{"REMOTE_ADDR": "203.0.113.9", "REMOTE_PORT": "40000",
				"HTTP_X_FORWARDED_FOR": "203.0.113.9"},
		},
		{
			name:   "client's own entry is skipped",
			header: http.Header{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9"}},
			want:   map[string]string{"REMOTE_ADDR": "203.0.113.9"},
		},
		{
			name:   "repeated header lines are one list",
			header: http.Header{"X-Forwarded-For": {"6.6.6.6", "203.0.113.9"}},
			want:   map[string]string{"REMOTE_ADDR": "203.0.113.9"},
		},
		{
			name:   "trusted hops are skipped",
			header: http.Header{"X-Forwarded-For": {"6.6.6.6,203.0.113.9, 10.1.1.1 ,10.2.2.2"}},
			want:   map[string]string{"REMOTE_ADDR": "203.0.113.9"},
		},
		{
			name:   "all trusted: the left-most",
			header: http.Header{"X-Forwarded-For": {"10.3.3.3, 10.1.1.1"}},
			want:   map[string]string{"REMOTE_ADDR": "10.3.3.3"},
		},
		{
			name:   "garbage at the right: the peer",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9, unknown"}},
			want:   map[string]string{"REMOTE_ADDR": "10.0.0.5"},
		},
		{
			name:   "garbage behind a trusted hop: that hop",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9, <script>, 10.1.1.1"}},
			want:   map[string]string{"REMOTE_ADDR": "10.1.1.1"},
		},
		{
			name:   "empty entry stops the walk",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9,,10.1.1.1"}},
			want:   map[string]string{"REMOTE_ADDR": "10.1.1.1"},
		},
		{
			name:   "ipv4 with port",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9:1234"}},
			want:   map[string]string{"REMOTE_ADDR": "203.0.113.9"},
		},
		{
			name:   "ipv6 with port",
			header: http.Header{"X-Forwarded-For": {"[2001:DB8::1]:443"}},
			want:   map[string]string{"REMOTE_ADDR": "2001:db8::1"},
		},
		{
			name:   "ipv6 in brackets",
			header: http.Header{"X-Forwarded-For": {"[2001:db8::2]"}},
			want:   map[string]string{"REMOTE_ADDR": "2001:db8::2"},
		},
		{
			name:   "ipv4-mapped is unmapped",
			header: http.Header{"X-Forwarded-For": {"::ffff:203.0.113.9"}},
			want:   map[string]string{"REMOTE_ADDR": "203.0.113.9"},
		},
		{
			name:   "zone dropped",
			header: http.Header{"X-Forwarded-For": {"fe80::1%eth0"}},
			want:   map[string]string{"REMOTE_ADDR": "fe80::1"},
		},
		{
			name:   "ipv6 peer",
			peer:   "[::1]:5555",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9"}},
			want:   map[string]string{"REMOTE_ADDR": "203.0.113.9", "REMOTE_PORT": "5555"},
		},
		{
			name:    "ipv4-mapped trusted network",
			trusted: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")},
			header:  http.Header{"X-Forwarded-For": {"203.0.113.9"}},
			want:    map[string]string{"REMOTE_ADDR": "203.0.113.9"},
		},
		{
			name:   "https",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"HTTPS"}},
			want:   map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https", "SERVER_PORT": "443", "SERVER_NAME": "backend"},
		},
		{
			name:   "https without X-Forwarded-For",
			header: http.Header{"X-Forwarded-Proto": {"http", "https"}},
			want:   map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https", "REMOTE_ADDR": "10.0.0.5"},
		},
		{
			name:   "proto of the same hop",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9, 10.1.1.1"}, "X-Forwarded-Proto": {"http, https, http"}},
			want:   map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https"},
		},
		{
			name:   "client's proto before an appended one",
			header: http.Header{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9"}, "X-Forwarded-Proto": {"https, http"}},
			want:   map[string]string{"REQUEST_SCHEME": "http"},
			absent: []string{"HTTPS"},
		},
		{
			name:   "proto overwritten by the proxy",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9, 10.1.1.1, 10.2.2.2"}, "X-Forwarded-Proto": {"https"}},
			want:   map[string]string{"HTTPS": "on"},
		},
		{
			name:   "plain http behind a tls proxy hop",
			tls:    true,
			header: http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"http"}},
			want:   map[string]string{"REQUEST_SCHEME": "http", "SERVER_PORT": "80"},
			absent: []string{"HTTPS"},
		},
		{
			name:   "unknown proto ignored",
			tls:    true,
			header: http.Header{"X-Forwarded-Proto": {"ftp"}},
			want:   map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https"},
		},
		{
			name:   "forwarded host",
			header: http.Header{"X-Forwarded-Host": {"WWW.Example.com."}, "X-Forwarded-Proto": {"https"}},
			want:   map[string]string{"SERVER_NAME": "www.example.com", "SERVER_PORT": "443", "HTTP_HOST": "backend"},
		},
		{
			name:   "forwarded host with port",
			header: http.Header{"X-Forwarded-Host": {"www.example.com:8443"}},
			want:   map[string]string{"SERVER_NAME": "www.example.com", "SERVER_PORT": "8443"},
		},
		{
			name:   "forwarded ipv6 host",
			header: http.Header{"X-Forwarded-Host": {"[2001:db8::1]:8443"}},
			want:   map[string]string{"SERVER_NAME": "[2001:db8::1]", "SERVER_PORT": "8443"},
		},
		{
			name:   "forwarded port wins",
			header: http.Header{"X-Forwarded-Host": {"www.example.com:8443"}, "X-Forwarded-Port": {"9443"}},
			want:   map[string]string{"SERVER_NAME": "www.example.com", "SERVER_PORT": "9443"},
		},
		{
			name:   "forwarded port alone",
			header: http.Header{"X-Forwarded-Port": {"8080"}},
			want:   map[string]string{"SERVER_NAME": "backend", "SERVER_PORT": "8080"},
		},
		{
			name: "invalid host and port ignored",
			header: http.Header{"X-Forwarded-Host": {"evil.example\"><script>"}, "X-Forwarded-Port": {"99999"},
				"X-Forwarded-For": {"203.0.113.9"}},
			want: map[string]string{"SERVER_NAME": "backend", "SERVER_PORT": "80", "REMOTE_ADDR": "203.0.113.9"},
		},
		{
			name:   "host with trailing garbage ignored",
			header: http.Header{"X-Forwarded-Host": {"[::1]x"}},
			want:   map[string]string{"SERVER_NAME": "backend"},
		},
		{
			name:   "host of the same hop",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9, 10.1.1.1"}, "X-Forwarded-Host": {"evil.example, www.example.com, lb.internal"}},
			want:   map[string]string{"SERVER_NAME": "www.example.com"},
		},
		{
			name:   "underscore lookalike is no forwarding header",
			header: http.Header{"X_forwarded_for": {"203.0.113.9"}},
			want:   map[string]string{"REMOTE_ADDR": "10.0.0.5"},
			absent: []string{"HTTP_X_FORWARDED_FOR"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Handler{Root: root, Runner: &scripts{}, TrustedProxies: tt.trusted}
			if tt.trusted == nil {
				h.TrustedProxies = trusted
			}
			r := envRequestFor("GET", "/cgi-bin/env.py")
			r.Host = "backend"
			r.RemoteAddr = "10.0.0.5:40000"
			if tt.peer != "" {
				r.RemoteAddr = tt.peer
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			r.Header = tt.header
			m := envMap(t, h.BuildEnv(r, script, -1))
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
		})
	}
}

func TestParseForwardedHost(t *testing.T) {
	tests := []struct {
		in, host, port string
		ok             bool
	}{
		{"example.com", "example.com", "", true},
		{"example.com:80", "example.com", "80", true},
		{"a_b.example", "a_b.example", "", true},
		{"192.0.2.1:8080", "192.0.2.1", "8080", true},
		{"[2001:db8::1]", "[2001:db8::1]", "", true},
		{"", "", "", false},
		{":80", "", "", false},
		{"example.com:", "", "", false},
		{"example.com:0", "", "", false},
		{"example.com:080", "", "", false},
		{"example.com:65536", "", "", false},
		{"example.com:http", "", "", false},
		{"a:b:c", "", "", false},
		{"exa mple.com", "", "", false},
		{"example.com/x", "", "", false},
		{"[2001:db8::1", "", "", false},
		{"[192.0.2.1]", "", "", false},
		{"[fe80::1%eth0]", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			host, port, ok := parseForwardedHost(tt.in)
			if host != tt.host || port != tt.port || ok != tt.ok {
				t.Errorf("parseForwardedHost(%q) = %q, %q, %v; want %q, %q, %v", tt.in, host, port, ok, tt.host, tt.port, tt.ok)
			}
		})
	}
}
