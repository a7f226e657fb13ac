package main

// The FastCGI front end behind a real nginx (fastcgi_pass), compared
// request by request with warmcgi's own HTTP listener, and --listen
// unix:PATH.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const nginxBin = "/usr/sbin/nginx"

// fastcgiWarmcgi is a warmcgi started with --fastcgi.
type fastcgiWarmcgi struct {
	*warmcgiProcess
	fastcgi string // what --fastcgi was given: "127.0.0.1:PORT" or "unix:PATH"
}

var fastcgiListening = regexp.MustCompile(`msg="fastcgi listening" addr=(\S+)`)

// startWarmcgiFastCGI runs `warmcgi serve DIR ARGS...` (ARGS carry
// --fastcgi and --listen) and waits up to 30 s for the "fastcgi listening"
// log line and, unless HTTP is off, the "listening" one. The server gets
// SIGTERM when the test ends.
func startWarmcgiFastCGI(t *testing.T, dir string, args ...string) *fastcgiWarmcgi {
	t.Helper()
	p := launchWarmcgi(t, dir, args...)
	wantHTTP := !slices.Contains(args, "none")
	var fastcgi string
	p.waitFor(t, `"fastcgi listening"`, func(logs string) bool {
		if m := listeningURL.FindStringSubmatch(logs); m != nil && strings.Contains(logs, "msg=listening") {
			p.url = m[1]
		}
		if m := fastcgiListening.FindStringSubmatch(logs); m != nil && (p.url != "" || !wantHTTP) {
			fastcgi = m[1]
			return true
		}
		return false
	})
	return &fastcgiWarmcgi{warmcgiProcess: p, fastcgi: fastcgi}
}

// requireNginx skips the test without nginx, except in CI, where it fails.
func requireNginx(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", nginxBin, err)
		}
		t.Skipf("skipping: nginx (%s) is not installed; on Debian: apt-get install nginx", nginxBin)
	}
}

// nginxUser runs nginx's workers when the test runs as root: the Debian
// default, so the socket permissions are tested as deployed (the workers
// must be let into warmcgi's socket). Not root, nginx runs as the test.
const nginxUser = "www-data"

// worldReachable makes dir and its parent (a t.TempDir) traversable by
// other users: nginx's workers and the scripts run as www-data.
func worldReachable(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// fastcgiParams are the parameters the test's nginx passes: Debian's
// fastcgi_params as shipped today (HTTP_HOST from $host, so without the
// port, which makes SERVER_PORT the only place the port is found), plus
// what an fcgiwrap configuration adds. SCRIPT_FILENAME and PATH_INFO point
// at the wrong things on purpose: warmcgi must pick the script itself.
const fastcgiParams = `
fastcgi_param QUERY_STRING $query_string;
fastcgi_param REQUEST_METHOD $request_method;
fastcgi_param CONTENT_TYPE $content_type;
fastcgi_param CONTENT_LENGTH $content_length;
fastcgi_param SCRIPT_NAME $fastcgi_script_name;
fastcgi_param REQUEST_URI $request_uri;
fastcgi_param DOCUMENT_URI $document_uri;
fastcgi_param DOCUMENT_ROOT $document_root;
fastcgi_param SERVER_PROTOCOL $server_protocol;
fastcgi_param REQUEST_SCHEME $scheme;
fastcgi_param HTTPS $https if_not_empty;
fastcgi_param GATEWAY_INTERFACE CGI/1.1;
fastcgi_param SERVER_SOFTWARE nginx/$nginx_version;
fastcgi_param REMOTE_ADDR $remote_addr;
fastcgi_param REMOTE_PORT $remote_port;
fastcgi_param REMOTE_USER $remote_user;
fastcgi_param SERVER_ADDR $server_addr;
fastcgi_param SERVER_PORT $server_port;
fastcgi_param SERVER_NAME $server_name;
fastcgi_param REDIRECT_STATUS 200;
fastcgi_param HTTP_HOST $host;
fastcgi_param SCRIPT_FILENAME /etc/passwd;
fastcgi_param PATH_INFO /not/the/path/info;
`

// nginxServer is a running nginx started by a test.
type nginxServer struct {
	url      string // "http://127.0.0.1:PORT/"
	tlsURL   string // "https://127.0.0.1:PORT/"
	authURL  string // "http://127.0.0.1:PORT/", behind basic authentication
	certPool *x509.CertPool
	errorLog func() string
}

// startNginx starts nginx in front of warmcgi's FastCGI address (host:port
// or unix:PATH): /cgi-bin/ goes to fastcgi_pass on a plain port, on a
// TLS port (a certificate made here) and on a port that asks for HTTP
// basic authentication (user ann, password secret) first.
func startNginx(t *testing.T, fastcgiAddr string) *nginxServer {
	t.Helper()
	requireNginx(t)
	root := t.TempDir()
	worldReachable(t, root)
	logPath := filepath.Join(root, "error.log")
	n := &nginxServer{errorLog: func() string { b, _ := os.ReadFile(logPath); return string(b) }}
	ports := freePorts(t, 3)
	port, tlsPort, authPort := ports[0], ports[1], ports[2]
	n.authURL = fmt.Sprintf("http://127.0.0.1:%d/", authPort)
	n.url = fmt.Sprintf("http://127.0.0.1:%d/", port)
	n.tlsURL = fmt.Sprintf("https://127.0.0.1:%d/", tlsPort)
	certFile, keyFile := filepath.Join(root, "cert.pem"), filepath.Join(root, "key.pem")
	n.certPool = writeTestCert(t, certFile, keyFile)
	htpasswd := filepath.Join(root, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("ann:{PLAIN}secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var c strings.Builder
	c.WriteString("daemon off;\nworker_processes 1;\n")
	if os.Geteuid() == 0 {
		fmt.Fprintf(&c, "user %s %s;\n", nginxUser, nginxUser)
	}
	fmt.Fprintf(&c, "pid %s;\nerror_log %s info;\n", filepath.Join(root, "nginx.pid"), logPath)
	c.WriteString("events { worker_connections 256; }\nhttp {\n")
	fmt.Fprintf(&c, "access_log %s;\n", filepath.Join(root, "access.log"))
	for _, tmp := range []string{"client_body", "fastcgi", "proxy", "uwsgi", "scgi"} {
		fmt.Fprintf(&c, "%s_temp_path %s;\n", tmp, filepath.Join(root, tmp))
	}
	// Uploads of any size reach warmcgi, which applies --max-body itself;
	// nginx's default is 1 MiB.
	c.WriteString("client_max_body_size 0;\nfastcgi_read_timeout 60s;\n")
	c.WriteString("server {\n")
	fmt.Fprintf(&c, "listen 127.0.0.1:%d;\nlisten 127.0.0.1:%d ssl;\n", port, tlsPort)
	fmt.Fprintf(&c, "ssl_certificate %s;\nssl_certificate_key %s;\n", certFile, keyFile)
	c.WriteString("server_name 127.0.0.1;\n")
	fmt.Fprintf(&c, "location /cgi-bin/ {\n%s fastcgi_param WARMCGI_TEST_PARAM from-nginx;\n fastcgi_pass %s;\n}\n", fastcgiParams, fastcgiAddr)
	c.WriteString("}\n")
	// A second server asks for HTTP basic authentication first.
	fmt.Fprintf(&c, "server {\nlisten 127.0.0.1:%d;\nserver_name 127.0.0.1;\n", authPort)
	fmt.Fprintf(&c, "location /cgi-bin/ {\n auth_basic test;\n auth_basic_user_file %s;\n%s fastcgi_param AUTH_TYPE Basic;\n fastcgi_pass %s;\n}\n}\n}\n",
		htpasswd, fastcgiParams, fastcgiAddr)
	confPath := filepath.Join(root, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(nginxBin, "-p", root+"/", "-e", logPath, "-c", confPath)
	out := &outputBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stopProcess(t, "nginx", cmd, exited, 10*time.Second)
		if t.Failed() {
			t.Logf("nginx output:\n%s\nnginx error log:\n%s", out.String(), n.errorLog())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := probeHTTP(addr)
		if err == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer on %s within 20s: %v\n%s\n%s", addr, err, out.String(), n.errorLog())
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited: %v\nconfig:\n%s\n%s\n%s", waitErr, c.String(), out.String(), n.errorLog())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its
// key, and returns a pool that trusts it.
func writeTestCert(t *testing.T, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// fastcgiTable is the differential table plus what matters most behind a
// front end: bodies past the 1 MiB spooling threshold, a chunked upload
// (nginx de-chunks it), HEAD and an escaped PATH_INFO.
func fastcgiTable() []diffRequest {
	table := differentialTable()
	big := bytes.Repeat([]byte("0123456789abcdef\r\n\x00\xff"), 80_000) // 1.6 MB
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	_ = w.SetBoundary("----warmcgiFastCGIBoundary")
	_ = w.WriteField("name", "Ann Example")
	fw, _ := w.CreateFormFile("upload", "big.bin")
	_, _ = fw.Write(big)
	_ = w.Close()
	return append(table,
		diffRequest{name: "multipart_big", method: "POST", target: "/cgi-bin/form.py",
			header: [][2]string{{"Content-Type", w.FormDataContentType()}}, body: mp.Bytes()},
		diffRequest{name: "stdin_big", method: "POST", target: "/cgi-bin/stdin.py",
			header: [][2]string{{"Content-Type", "application/octet-stream"}}, body: big},
		diffRequest{name: "stdin_chunked", method: "POST", target: "/cgi-bin/stdin.py?read=all", chunked: true,
			header: [][2]string{{"Content-Type", "application/octet-stream"}}, body: big[:300_000]},
		diffRequest{name: "env_head", method: "HEAD", target: "/cgi-bin/env.py?h=1"},
		diffRequest{name: "env_path_escaped", method: "GET", target: "/cgi-bin/env.py/a%20b/c%7e?x=%2F"},
		diffRequest{name: "missing_path_info", method: "GET", target: "/cgi-bin/missing.py/x", serverBody: true},
	)
}

// fastcgiKnown are the accepted differences between the HTTP listener and
// nginx in front of the FastCGI listener.
var fastcgiKnown = map[string]struct{ field, why string }{
	// net/http/fcgi writes the status line itself, with the standard
	// reason phrase: a script's own phrase ("403 Members Only") is lost.
	// The direct listener takes the connection over to send it.
	"status_custom": {"status", "the reason phrase is lost over FastCGI"},
	// nginx before 1.23 sends a repeated request header as repeated
	// parameters, and net/http/fcgi keeps the last; nginx 1.23 and later
	// join them, Cookie with "; " where Apache and the HTTP listener use
	// ", ".
	"env_dup_cookie": {"body", "repeated headers are not joined the same way behind nginx"},
}

// fastcgiNormalise removes from the FastCGI side's body what nginx
// legitimately adds or changes, so that the comparison with the HTTP
// listener is exact otherwise:
//   - DOCUMENT_URI is nginx's own variable and WARMCGI_TEST_PARAM the
//     test's fastcgi_param, passed on as fcgiwrap would (checkGateway
//     checks them);
//   - HTTP_HOST is nginx's $host, without the port (Debian's params): the
//     port is put back so that the shared normalisation applies to it.
//
// SERVER_PORT, REMOTE_PORT, SERVER_SOFTWARE need nothing extra: the
// shared normalisation replaces each server's own port, the client's
// port is volatile, and SERVER_SOFTWARE is warmcgi's on both paths.
func fastcgiNormalise(body []byte, nginxPort string) []byte {
	if !bytes.Contains(body, []byte("GATEWAY_INTERFACE=")) {
		return body
	}
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		m := envLine.FindStringSubmatch(l)
		switch {
		case m != nil && (m[2] == "DOCUMENT_URI" || m[2] == "WARMCGI_TEST_PARAM"):
			continue
		case m != nil && m[2] == "HTTP_HOST" && m[3] == "127.0.0.1":
			l += ":" + nginxPort
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}

// compareFastCGI runs the table against the HTTP listener and nginx and
// reports every difference.
// With passUser (--fastcgi-remote-user) nginx's unchecked $remote_user
// reaches env_authorization's script, which is the point of the default.
func compareFastCGI(t *testing.T, httpURL string, n *nginxServer, passUser bool) {
	hs := newDiffServer(t, "http", httpURL)
	ns := newDiffServer(t, "front", n.url)
	for _, r := range fastcgiTable() {
		t.Run(r.name, func(t *testing.T) {
			direct, err := doRaw(httpURL, r)
			if err != nil {
				t.Fatalf("HTTP listener: %v", err)
			}
			viaNginx, err := doRaw(n.url, r)
			if err != nil {
				t.Fatalf("nginx: %v", err)
			}
			if viaNginx.code == http.StatusBadGateway || viaNginx.code == http.StatusGatewayTimeout {
				t.Fatalf("the front end could not reach warmcgi: %s\n%s", viaNginx.statusLine, n.errorLog())
			}
			// An NPH script's output goes out raw on the HTTP listener;
			// over FastCGI there is no connection to take over, so it is
			// parsed and relayed: compare it as a parsed response.
			r.rawExact = false
			viaNginx.body = fastcgiNormalise(viaNginx.body, ns.port)
			if r.chunked && bytes.HasPrefix(direct.body, []byte("CONTENT_LENGTH=\nHTTP_TRANSFER_ENCODING=chunked\n")) {
				// nginx de-chunks an upload and sends its length, as
				// fcgiwrap's scripts see it; the HTTP listener (and
				// mod_proxy_fcgi) pass it on as Apache does (COMPAT 19).
				nginxLines := fmt.Sprintf("CONTENT_LENGTH=%d\nHTTP_TRANSFER_ENCODING=\n", len(r.body))
				viaNginx.body = bytes.Replace(viaNginx.body, []byte(nginxLines), []byte("CONTENT_LENGTH=\nHTTP_TRANSFER_ENCODING=chunked\n"), 1)
			}
			for _, m := range diffResponses(r, hs, direct, ns, viaNginx) {
				if passUser && r.name == "env_authorization" && m.field == "body" && strings.Contains(m.msg, "+ REMOTE_USER=user\n") {
					t.Logf("known difference with --fastcgi-remote-user: nginx passes the unchecked user name:\n%s", m.msg)
					continue
				}
				if k, ok := fastcgiKnown[r.name]; ok && k.field == m.field {
					t.Logf("known difference in %s (%s):\n%s", m.field, k.why, m.msg)
					continue
				}
				t.Errorf("%s differs (\"apache\" is the HTTP listener, \"warmcgi\" the front end→FastCGI):\n%s", m.field, m.msg)
			}
			if direct.code != viaNginx.code {
				t.Errorf("status %d direct, %d through nginx", direct.code, viaNginx.code)
			}
		})
	}
}

// envDump fetches env.py through client and returns its variables.
func envDump(t *testing.T, client *http.Client, url string, header ...string) map[string]string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env
}

func expectEnv(t *testing.T, label string, env map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, ok := env[k]
		switch {
		case v == "<unset>" && ok:
			t.Errorf("%s: %s=%q, want it unset", label, k, got)
		case v != "<unset>" && got != v:
			t.Errorf("%s: %s=%q, want %q", label, k, got, v)
		}
	}
}

// checkStreaming reads progress.py through nginx: the first line must
// arrive while the script still waits for the marker file.
func checkStreaming(t *testing.T, baseURL string) {
	tmp := t.TempDir()
	worldReachable(t, tmp)
	marker := filepath.Join(tmp, "go-on")
	resp, rd := holdProgressResponse(t, baseURL, marker)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(rd); err != nil || string(rest) != "done\n" {
		t.Errorf("rest of the progress page %q, %v; want done (the script gave up waiting: nothing was streamed)", rest, err)
	}
	if v := resp.Header.Get("X-Accel-Buffering"); v != "" {
		t.Errorf("nginx passed X-Accel-Buffering: %q on to the client", v)
	}
}

// checkGateway checks what only a front end supplies: its TLS, its
// authenticated user and its own parameters, and that it cannot choose
// the script.
func checkGateway(t *testing.T, n *nginxServer, passUser bool) {
	port := strings.TrimSuffix(n.tlsURL[strings.LastIndexByte(n.tlsURL, ':')+1:], "/")
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: n.certPool}}}
	env := envDump(t, tlsClient, n.tlsURL+"cgi-bin/env.py/p?q=1")
	expectEnv(t, "https", env, map[string]string{
		"HTTPS": "on", "REQUEST_SCHEME": "https", "SERVER_PORT": port, "SERVER_NAME": "127.0.0.1",
		"SERVER_ADDR": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1",
		"SCRIPT_NAME": "/cgi-bin/env.py", "PATH_INFO": "/p", "QUERY_STRING": "q=1",
		"REQUEST_URI": "/cgi-bin/env.py/p?q=1", "WARMCGI_TEST_PARAM": "from-nginx",
		"DOCUMENT_URI": "/cgi-bin/env.py/p",
		// Never the front end's: warmcgi resolves and names the script.
		"SCRIPT_FILENAME": filepath.Join(testdataDirOf(env), "env.py"),
		// Set by nginx's params, but the handler's own (or absent).
		"REDIRECT_STATUS": "<unset>", "REMOTE_USER": "<unset>", "AUTH_TYPE": "<unset>",
	})
	if strings.Contains(env["SCRIPT_FILENAME"], "passwd") || env["SERVER_SOFTWARE"] != "warmcgi" {
		t.Errorf("front end's SCRIPT_FILENAME/SERVER_SOFTWARE leaked: %q %q", env["SCRIPT_FILENAME"], env["SERVER_SOFTWARE"])
	}

	req, _ := http.NewRequest("GET", n.authURL+"cgi-bin/env.py?who=1", nil)
	req.SetBasicAuth("ann", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("authenticated request: %d\n%s", resp.StatusCode, b)
	}
	got := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	want := map[string]string{
		"REMOTE_USER": "<unset>", "AUTH_TYPE": "<unset>", "SCRIPT_NAME": "/cgi-bin/env.py",
		"QUERY_STRING": "who=1",
		// Hidden as on the HTTP listener (no --pass-authorization).
		"HTTP_AUTHORIZATION": "<unset>",
	}
	if passUser {
		want["REMOTE_USER"], want["AUTH_TYPE"] = "ann", "Basic"
	}
	expectEnv(t, "auth", got, want)
	if resp, err := http.Get(n.authURL + "cgi-bin/env.py"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want nginx's 401", resp.StatusCode)
	}
}

// testdataDirOf returns the directory warmcgi serves, from an env dump.
func testdataDirOf(env map[string]string) string {
	return strings.TrimSuffix(env["CONTEXT_DOCUMENT_ROOT"], "/")
}

// TestFastCGINginx puts nginx in front of warmcgi's FastCGI listener, on
// TCP and on a Unix socket, and checks that every request of the table is
// answered as warmcgi's own HTTP listener answers it.
func TestFastCGINginx(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and warmcgi; skipped with -short")
	}
	requireNginx(t)
	dir := sharedCGIBin(t)

	t.Run("tcp", func(t *testing.T) {
		w := startWarmcgiFastCGI(t, dir, "--listen", "127.0.0.1:0", "--fastcgi", "127.0.0.1:0")
		n := startNginx(t, w.fastcgi)
		t.Run("table", func(t *testing.T) { compareFastCGI(t, w.url, n, false) })
		t.Run("streaming", func(t *testing.T) { checkStreaming(t, n.url) })
		t.Run("gateway", func(t *testing.T) { checkGateway(t, n, false) })
		t.Run("tracebacks_logged", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if missing := waitForLog(ctx, w.stderr.String, "raise_before marker 9b2d"); len(missing) > 0 {
				t.Errorf("warmcgi log lacks %q", missing)
			}
		})
	})

	t.Run("unix", func(t *testing.T) {
		// The socket's directory belongs to the account warmcgi switches
		// to, as a systemd RuntimeDirectory would, so that it can remove
		// the socket when it stops. nginx's workers (www-data) connect
		// through the socket's owner and group.
		sockDir := t.TempDir()
		worldReachable(t, sockDir)
		if os.Geteuid() == 0 && slices.Contains(privilegeArgs(dir, nil), "--user") {
			chownTo(t, sockDir, apacheUser)
		}
		sock := filepath.Join(sockDir, "fcgi.sock")
		args := []string{"--listen", "127.0.0.1:0", "--fastcgi", "unix:" + sock, "--fastcgi-remote-user"}
		if os.Geteuid() == 0 && slices.Contains(privilegeArgs(dir, nil), "--allow-root") {
			// Scripts run as root here: the socket is root's, and nginx's
			// workers get in through its group.
			args = append(args, "--socket-group", nginxUser)
		}
		w := startWarmcgiFastCGI(t, dir, args...)
		if w.fastcgi != sock {
			t.Errorf("logged FastCGI address %q, want %q", w.fastcgi, sock)
		}
		fi, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
			t.Errorf("socket mode %v, want a socket with 0660", fi.Mode())
		}
		n := startNginx(t, "unix:"+sock)
		t.Run("table", func(t *testing.T) { compareFastCGI(t, w.url, n, true) })
		t.Run("streaming", func(t *testing.T) { checkStreaming(t, n.url) })
		t.Run("gateway", func(t *testing.T) { checkGateway(t, n, true) })

		stopProcess(t, "warmcgi", w.cmd, w.exited, 10*time.Second)
		if _, err := os.Lstat(sock); !os.IsNotExist(err) {
			t.Errorf("socket still there after SIGTERM (%v):\n%s", err, w.stderr.String())
		}
	})
}

// chownTo gives dir to the named user and its group.
func chownTo(t *testing.T, dir, name string) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// unixClient is an HTTP client whose every connection goes to sock.
func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

// TestListenUnix serves HTTP on a Unix socket: created 0660, a stale
// socket from a crashed server replaced, a live one or a regular file
// refused, the socket removed on SIGTERM.
func TestListenUnix(t *testing.T) {
	dir := sharedCGIBin(t)
	sockDir := t.TempDir()
	worldReachable(t, sockDir)
	if os.Geteuid() == 0 && slices.Contains(privilegeArgs(dir, nil), "--user") {
		chownTo(t, sockDir, apacheUser)
	}
	sock := filepath.Join(sockDir, "http.sock")

	// A stale socket: bound, then abandoned without removing the file.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	w := startWarmcgiFastCGIless(t, dir, "--listen", "unix:"+sock)
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	client := unixClient(sock)
	env := envDump(t, client, "http://localhost/cgi-bin/env.py/x?y=1")
	expectEnv(t, "unix", env, map[string]string{
		"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "<unset>", "HTTP_HOST": "localhost",
		"SERVER_NAME": "localhost", "SERVER_PORT": "80", "PATH_INFO": "/x", "QUERY_STRING": "y=1",
		"SERVER_ADDR": "<unset>",
	})
	resp, err := client.Get("http://localhost/cgi-bin/missing.py")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("missing script: %d", resp.StatusCode)
	}

	// A second server on the same, live socket is refused.
	if code, out := runWarmcgi(t, append([]string{"serve", dir, "--listen", "unix:" + sock}, privilegeArgs(dir, nil)...)...); code == 0 || !strings.Contains(out, "another server is listening") {
		t.Errorf("second server on a live socket: exit %d\n%s", code, out)
	}

	stopProcess(t, "warmcgi", w.cmd, w.exited, 10*time.Second)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after SIGTERM (%v):\n%s", err, w.stderr.String())
	}

	// Never replace something that is not a socket.
	if err := os.WriteFile(sock, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runWarmcgi(t, append([]string{"serve", dir, "--listen", "unix:" + sock}, privilegeArgs(dir, nil)...)...); code == 0 || !strings.Contains(out, "not a socket") {
		t.Errorf("regular file at the socket path: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(sock); string(b) != "precious" {
		t.Errorf("the regular file was changed: %q", b)
	}
}

// startWarmcgiFastCGIless starts warmcgi with a unix: --listen and no
// FastCGI, waiting for "msg=listening socket=".
func startWarmcgiFastCGIless(t *testing.T, dir string, args ...string) *warmcgiProcess {
	t.Helper()
	p := launchWarmcgi(t, dir, args...)
	p.waitFor(t, `"listening socket="`, func(logs string) bool { return strings.Contains(logs, "msg=listening socket=") })
	return p
}

// TestFastCGIFlags: the command lines refused, FastCGI alone (--listen
// none) behind nginx, and a FastCGI request in progress at SIGTERM
// finishing before the server exits.
func TestFastCGIFlags(t *testing.T) {
	dir := sharedCGIBin(t)
	priv := privilegeArgs(dir, nil)
	if code, out := runWarmcgi(t, append([]string{"serve", dir, "--listen", "none"}, priv...)...); code != 2 || !strings.Contains(out, "needs --fastcgi") {
		t.Errorf("--listen none alone: exit %d\n%s", code, out)
	}
	if code, out := runWarmcgi(t, append([]string{"serve", dir, "--fastcgi", "unix:/x.sock", "--socket-mode", "0999"}, priv...)...); code != 2 || !strings.Contains(out, "--socket-mode") {
		t.Errorf("bad --socket-mode: exit %d\n%s", code, out)
	}
	// Only FastCGI: no HTTP listener is opened, and a request over
	// FastCGI still runs (through nginx when it is here).
	w := startWarmcgiFastCGI(t, dir, "--listen", "none", "--fastcgi", "127.0.0.1:0")
	if strings.Contains(w.stderr.String(), "msg=listening") {
		t.Errorf("an HTTP listener was opened with --listen none:\n%s", w.stderr.String())
	}
	if os.Getenv("CI") != "true" {
		if _, err := os.Stat(nginxBin); err != nil {
			return
		}
	}
	n := startNginx(t, w.fastcgi)
	resp, err := http.Get(n.url + "cgi-bin/hello.py")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "Hello, world!\n" {
		t.Errorf("hello.py over FastCGI only: %d %q", resp.StatusCode, b)
	}

	// SIGTERM lets a FastCGI request in progress finish: the progress
	// page is held until the server logs that it is shutting down.
	tmp := t.TempDir()
	worldReachable(t, tmp)
	marker := filepath.Join(tmp, "go-on")
	rd := holdProgress(t, n.url, marker)
	w.sigterm(t)
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(rd); err != nil || string(rest) != "done\n" {
		t.Errorf("request in progress at SIGTERM ended with %q, %v; want done", rest, err)
	}
	select {
	case <-w.exited:
		if w.err != nil {
			t.Errorf("warmcgi exited with %v after SIGTERM", w.err)
		}
	case <-time.After(15 * time.Second):
		// Go prints every goroutine's stack on SIGQUIT: where it hangs.
		w.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-w.exited:
		case <-time.After(5 * time.Second):
		}
		t.Errorf("warmcgi did not exit after its last request")
	}
}

// startApacheFastCGI starts Apache httpd with mod_proxy_fcgi sending
// /cgi-bin/ to warmcgi's FastCGI address, as examples/apache-proxy-fcgi.conf
// does. Only url and errorLog of the result are set.
func startApacheFastCGI(t *testing.T, fastcgiAddr string) *nginxServer {
	t.Helper()
	if _, err := os.Stat(apacheBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", apacheBin, err)
		}
		t.Skipf("skipping: Apache httpd (%s) is not installed", apacheBin)
	}
	root := t.TempDir()
	worldReachable(t, root)
	logPath := filepath.Join(root, "error.log")
	n := &nginxServer{errorLog: func() string { b, _ := os.ReadFile(logPath); return string(b) }}
	port := freePort(t)
	n.url = fmt.Sprintf("http://127.0.0.1:%d/", port)
	target := "fcgi://" + fastcgiAddr + "/cgi-bin/"
	if path, ok := strings.CutPrefix(fastcgiAddr, "unix:"); ok {
		target = "unix:" + path + "|fcgi://localhost/cgi-bin/"
	}
	var c strings.Builder
	fmt.Fprintf(&c, "ServerRoot %q\nDefaultRuntimeDir %q\nPidFile %q\nListen 127.0.0.1:%d\n",
		root, root, filepath.Join(root, "httpd.pid"), port)
	for _, mod := range []string{"mpm_event", "authz_core", "proxy", "proxy_fcgi"} {
		fmt.Fprintf(&c, "LoadModule %s_module %q\n", mod, filepath.Join(apacheModules, "mod_"+mod+".so"))
	}
	if os.Geteuid() == 0 {
		fmt.Fprintf(&c, "User %s\nGroup %s\n", apacheUser, apacheUser)
	}
	fmt.Fprintf(&c, "ServerName 127.0.0.1\nServerTokens Prod\nErrorLog %q\nLogLevel warn\n", logPath)
	fmt.Fprintf(&c, "DocumentRoot %q\n", root)
	fmt.Fprintf(&c, "ProxyPass \"/cgi-bin/\" %q flushpackets=on\n", target)
	confPath := filepath.Join(root, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(apacheBin, "-f", confPath, "-DFOREGROUND")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out := &outputBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting apache: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stopProcess(t, "apache2", cmd, exited, 10*time.Second)
		if t.Failed() {
			t.Logf("apache output:\n%s\napache error log:\n%s", out.String(), n.errorLog())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for probeHTTP(addr) != nil {
		select {
		case <-exited:
			t.Fatalf("apache exited\nconfig:\n%s\n%s\n%s", c.String(), out.String(), n.errorLog())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("apache did not answer on %s within 20s\n%s", addr, n.errorLog())
		}
	}
	return n
}

// TestFastCGIApache puts Apache's mod_proxy_fcgi in front of warmcgi's
// FastCGI listener and compares with warmcgi's HTTP listener.
func TestFastCGIApache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache and warmcgi; skipped with -short")
	}
	dir := sharedCGIBin(t)
	w := startWarmcgiFastCGI(t, dir, "--listen", "127.0.0.1:0", "--fastcgi", "127.0.0.1:0")
	a := startApacheFastCGI(t, w.fastcgi)
	t.Run("table", func(t *testing.T) { compareFastCGI(t, w.url, a, false) })
	t.Run("streaming", func(t *testing.T) { checkStreaming(t, a.url) })
}
