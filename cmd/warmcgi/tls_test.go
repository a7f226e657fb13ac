package main

// HTTPS (--tls-cert, --tls-key) through the real binary, with certificates
// the tests make: HTTP/2 and HTTP/1.1 over TLS, the reload on SIGHUP, a
// failed reload keeping the old certificate, refusals at start, and the
// request limits on the TLS path.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCert is a self-signed ECDSA certificate for 127.0.0.1 and localhost.
type testCert struct {
	cert    *x509.Certificate
	certPEM []byte
	keyPEM  []byte
}

// newTestCert makes a certificate named cn with the given serial number,
// valid from an hour ago for a day.
func newTestCert(t *testing.T, cn string, serial int64) testCert {
	t.Helper()
	return newTestCertFor(t, cn, serial, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// newTestCertFor is newTestCert valid from notBefore to notAfter.
func newTestCertFor(t *testing.T, cn string, serial int64, notBefore, notAfter time.Time) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// writeFile writes data to path, readable by every user: a server running
// as --user www-data reads the files again on SIGHUP.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tlsFiles writes c to cert.pem and key.pem in dir and returns their paths.
func tlsFiles(t *testing.T, dir string, c testCert) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, c.certPEM)
	writeFile(t, keyFile, c.keyPEM)
	return certFile, keyFile
}

// tlsClient trusts exactly the given certificates; h2 says whether it
// offers HTTP/2.
func tlsClient(h2 bool, certs ...testCert) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c.cert)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// tlsGet requests url and returns the protocol, status and body.
func tlsGet(t *testing.T, client *http.Client, url string) (proto string, status int, body string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.Proto, resp.StatusCode, string(b)
}

// servedSerial connects to the server at base and returns the serial
// number of the certificate it presents (any certificate: the check is
// the test's).
func servedSerial(t *testing.T, base string) *big.Int {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", u.Host, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// TestTLS: with --tls-cert/--tls-key the HTTP listener serves HTTPS,
// HTTP/2 to clients that offer it and HTTP/1.1 to those that do not, and
// scripts see HTTPS=on and the protocol. SIGHUP loads a new certificate
// written over the same files; a broken or mismatched pair on SIGHUP
// keeps the old one, and requests go on throughout.
func TestTLS(t *testing.T) {
	dir := worldReadableDir(t)
	first := newTestCert(t, "warmcgi-first", 1001)
	second := newTestCert(t, "warmcgi-second", 2002)
	certFile, keyFile := tlsFiles(t, dir, first)
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("listening on %s; want an https:// URL", p.url)
	}
	h2 := tlsClient(true, first, second)
	proto, status, body := tlsGet(t, h2, p.url+"cgi-bin/hello.py")
	if proto != "HTTP/2.0" || status != 200 || body != "Hello, world!\n" {
		t.Fatalf("hello.py over HTTPS: %s %d %q; want HTTP/2.0 200 \"Hello, world!\\n\"", proto, status, body)
	}
	_, _, env := tlsGet(t, h2, p.url+"cgi-bin/env.py")
	for _, want := range []string{"HTTPS=on\n", "REQUEST_SCHEME=https\n", "SERVER_PROTOCOL=HTTP/2.0\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("env.py over HTTP/2 lacks %q:\n%s", strings.TrimSpace(want), env)
		}
	}
	// An HTTP/2 body of unknown length reaches the script as Apache's
	// mod_http2 hands it on (checked by hand with h2c): as a chunked one
	// (COMPAT 19).
	if resp, err := h2.Post(p.url+"cgi-bin/stdin.py?read=all", "application/octet-stream", io.MultiReader(strings.NewReader("h2 body"))); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "CONTENT_LENGTH=\nHTTP_TRANSFER_ENCODING=chunked\nread 7 bytes\n"; resp.Proto != "HTTP/2.0" || !strings.HasPrefix(string(b), want) {
			t.Errorf("stdin.py over HTTP/2 with no content-length: %s %q; want %q first", resp.Proto, b, want)
		}
	}
	h1 := tlsClient(false, first, second)
	if proto, status, body := tlsGet(t, h1, p.url+"cgi-bin/hello.py"); proto != "HTTP/1.1" || status != 200 || body != "Hello, world!\n" {
		t.Errorf("hello.py over HTTPS without h2: %s %d %q; want HTTP/1.1 200", proto, status, body)
	}
	if got := servedSerial(t, p.url); got.Cmp(first.cert.SerialNumber) != 0 {
		t.Fatalf("served serial %v; want %v", got, first.cert.SerialNumber)
	}

	// A renewed certificate written over the same files, then SIGHUP.
	tlsFiles(t, dir, second)
	hup(t, p, "TLS certificate reloaded", 1)
	if got := servedSerial(t, p.url); got.Cmp(second.cert.SerialNumber) != 0 {
		t.Fatalf("after SIGHUP: served serial %v; want the new certificate's %v", got, second.cert.SerialNumber)
	}
	if !strings.Contains(p.stderr.String(), `subject="CN=warmcgi-second"`) {
		t.Errorf("the reload log does not name the new certificate:\n%s", p.stderr.String())
	}
	h2.CloseIdleConnections()
	if proto, status, body := tlsGet(t, h2, p.url+"cgi-bin/hello.py"); proto != "HTTP/2.0" || status != 200 || body != "Hello, world!\n" {
		t.Errorf("hello.py after the reload: %s %d %q", proto, status, body)
	}

	// Broken files on SIGHUP: the second certificate stays. A key only
	// root may read was read at start, but not on SIGHUP by the --user
	// account (when the harness runs the server as one).
	third := newTestCert(t, "warmcgi-third", 3003)
	broken := []struct {
		name      string
		cert, key []byte
		keyMode   os.FileMode
		want      string
	}{
		{"garbage certificate", []byte("not a certificate\n"), third.keyPEM, 0o644, "failed to find any PEM data"},
		{"mismatched key", third.certPEM, first.keyPEM, 0o644, "private key does not match public key"},
	}
	if os.Geteuid() == 0 && strings.Contains(p.stderr.String(), "switched user") {
		broken = append(broken, struct {
			name      string
			cert, key []byte
			keyMode   os.FileMode
			want      string
		}{"key readable by root only", third.certPEM, third.keyPEM, 0o600, "permission denied"})
	}
	for i, b := range broken {
		writeFile(t, certFile, b.cert)
		writeFile(t, keyFile, b.key)
		if err := os.Chmod(keyFile, b.keyMode); err != nil {
			t.Fatal(err)
		}
		hup(t, p, "TLS certificate not reloaded", i+1)
		if got := servedSerial(t, p.url); got.Cmp(second.cert.SerialNumber) != 0 {
			t.Errorf("%s, SIGHUP: served serial %v; want the previous certificate's %v", b.name, got, second.cert.SerialNumber)
		}
		if !strings.Contains(p.stderr.String(), b.want) {
			t.Errorf("%s: the log does not say %q:\n%s", b.name, b.want, p.stderr.String())
		}
		h2.CloseIdleConnections()
		if _, status, body := tlsGet(t, h2, p.url+"cgi-bin/hello.py"); status != 200 || body != "Hello, world!\n" {
			t.Errorf("hello.py after %s and SIGHUP: %d %q", b.name, status, body)
		}
	}

	// SIGTERM drains HTTP/2 streams in flight, as HTTP/1.1 requests.
	marker := filepath.Join(dir, "marker")
	resp, err := h2.Get(p.url + "cgi-bin/progress.py?" + marker)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if line, err := rd.ReadString('\n'); err != nil || line != "waiting\n" {
		t.Fatalf("progress.py: %s %d, first line %q, %v", resp.Proto, resp.StatusCode, line, err)
	}
	p.sigterm(t)
	writeFile(t, marker, nil)
	if rest, err := io.ReadAll(rd); err != nil || string(rest) != "done\n" || resp.Proto != "HTTP/2.0" {
		t.Errorf("progress.py across SIGTERM: %s, rest %q, %v; want HTTP/2.0 and \"done\\n\"", resp.Proto, rest, err)
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("the server did not exit after draining")
	}
}

// hup sends the server SIGHUP and waits until its log holds the n-th line
// containing msg, and the workers' restart that follows it.
func hup(t *testing.T, p *warmcgiProcess, msg string, n int) {
	t.Helper()
	restarts := strings.Count(p.stderr.String(), "SIGHUP: restarting workers")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, fmt.Sprintf("%q (%d times) after SIGHUP", msg, n), func(logs string) bool {
		return strings.Count(logs, msg) >= n && strings.Count(logs, "SIGHUP: restarting workers") > restarts
	})
}

// TestTLSRefusals: a missing, unreadable or mismatched pair, or one flag
// without the other, stops the start with exit code 2 and a message
// naming the flags, before anything listens.
func TestTLSRefusals(t *testing.T) {
	dir := worldReadableDir(t)
	good := newTestCert(t, "warmcgi-good", 1)
	other := newTestCert(t, "warmcgi-other", 2)
	certFile, keyFile := tlsFiles(t, dir, good)
	otherKey := filepath.Join(dir, "other-key.pem")
	writeFile(t, otherKey, other.keyPEM)
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"))
	missing := filepath.Join(dir, "missing.pem")
	scripts := testdataCGIBin(t)
	serve := func(args ...string) []string {
		return append(append([]string{"serve", scripts, "--listen", "127.0.0.1:0"}, privilegeArgs(scripts, nil)...), args...)
	}
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing key", serve("--tls-cert", certFile, "--tls-key", missing), []string{"--tls-key " + missing, "no such file"}},
		{"missing certificate", serve("--tls-cert", missing, "--tls-key", keyFile), []string{"--tls-cert " + missing, "no such file"}},
		{"mismatched pair", serve("--tls-cert", certFile, "--tls-key", otherKey), []string{"--tls-cert", "private key does not match public key"}},
		{"not a certificate", serve("--tls-cert", garbage, "--tls-key", keyFile), []string{"--tls-cert " + garbage}},
		{"certificate only", serve("--tls-cert", certFile), []string{"--tls-cert and --tls-key go together"}},
		{"key only", serve("--tls-key", keyFile), []string{"--tls-cert and --tls-key go together"}},
		{"no HTTP listener", serve("--tls-cert", certFile, "--tls-key", keyFile, "--listen", "none", "--fastcgi", "127.0.0.1:0"), []string{"which is none"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runWarmcgi(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d; want %d:\n%s", code, exitUsage, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "msg=listening") {
				t.Errorf("listened before refusing:\n%s", out)
			}
		})
	}
}

// TestTLSLimits: the limits of the HTTP listener hold on the TLS path: the
// header size (431 over HTTP/1.1, advertised to HTTP/2 clients),
// --read-header-timeout (a client that never starts its handshake is cut
// off), --idle-timeout (an idle HTTP/2 connection is closed) and
// --max-connections (a third TLS connection is not served while two are
// open).
func TestTLSLimits(t *testing.T) {
	dir := worldReadableDir(t)
	c := newTestCert(t, "warmcgi-limits", 7)
	certFile, keyFile := tlsFiles(t, dir, c)
	base, logsA := startWarmcgi(t, testdataCGIBin(t), "--tls-cert", certFile, "--tls-key", keyFile,
		"--max-header-bytes", "4KiB", "--read-header-timeout", "1s", "--idle-timeout", "1s")
	u, _ := url.Parse(base)
	// net/http allows HTTP/1.1 4 KiB of slack over the limit, and HTTP/2
	// 320 bytes (and closes the connection on a header block more than
	// twice over): 16 KiB and 6 KiB are over the limit for each.
	for _, tt := range []struct {
		h2   bool
		size int
	}{{false, 16}, {true, 6}} {
		req, _ := http.NewRequest("GET", base+"cgi-bin/hello.py", nil)
		for i := range tt.size {
			req.Header.Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("h", 1<<10))
		}
		resp, err := tlsClient(tt.h2, c).Do(req)
		switch {
		case err == nil:
			resp.Body.Close()
			if resp.StatusCode != 431 {
				t.Errorf("%d KiB of headers over a 4 KiB limit (%s): %d; want 431", tt.size, resp.Proto, resp.StatusCode)
			}
		case !tt.h2 || !strings.Contains(err.Error(), "larger than peer's advertised limit"):
			t.Errorf("%d KiB of headers over a 4 KiB limit (h2 %v): %v", tt.size, tt.h2, err)
		}
	}

	// No ClientHello at all: the handshake is bounded by --read-header-timeout.
	if elapsed := closedAfter(t, u.Host, nil, ""); elapsed < 900*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("a connection that never sends a ClientHello was closed after %v; want about 1s", elapsed)
	}
	// An HTTP/2 connection that sends its preface and settings, then
	// nothing: closed after --idle-timeout.
	h2conf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	if elapsed := closedAfter(t, u.Host, h2conf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); elapsed < 900*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("an idle HTTP/2 connection was closed after %v; want about 1s", elapsed)
	}
	// A TCP probe (connect, close) and the silent client above are not
	// warnings; a client refusing the certificate is.
	if probe, err := net.Dial("tcp", u.Host); err == nil {
		probe.Close()
	}
	if _, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: x509.NewCertPool()}); err == nil {
		t.Error("a client trusting no certificate completed its handshake")
	}
	if missing := waitForLog(t.Context(), logsA, "remote error: tls: bad certificate"); missing != nil {
		t.Errorf("a client refusing the certificate is not logged:\n%s", logsA())
	}
	for line := range strings.SplitSeq(logsA(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "TLS handshake error") && !strings.Contains(line, "bad certificate") {
			t.Errorf("an abandoned handshake logged as a warning: %s", line)
		}
	}

	base, logs := startWarmcgi(t, testdataCGIBin(t), "--tls-cert", certFile, "--tls-key", keyFile, "--max-connections", "2")
	u, _ = url.Parse(base)
	conf := &tls.Config{InsecureSkipVerify: true}
	var held []*tls.Conn
	for range 2 {
		c, err := tls.Dial("tcp", u.Host, conf)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	raw, err := net.Dial("tcp", u.Host) // the kernel queues it
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	if err := tls.Client(raw, conf).HandshakeContext(ctx); err == nil {
		t.Fatal("a third TLS connection was served while two were open under --max-connections 2")
	}
	if missing := waitForLog(t.Context(), logs, "connection limit reached"); missing != nil {
		t.Errorf("no warning about the connection limit:\n%s", logs())
	}
	raw.Close()
	held[0].Close()
	if _, status, body := tlsGet(t, tlsClient(true, c), base+"cgi-bin/hello.py"); status != 200 || body != "Hello, world!\n" {
		t.Errorf("a request once a slot was free: %d %q", status, body)
	}
}

// closedAfter opens a connection to addr (TLS with conf, else plain TCP),
// writes send and returns how long the server took to close it.
func closedAfter(t *testing.T, addr string, conf *tls.Config, send string) time.Duration {
	t.Helper()
	var conn net.Conn
	var err error
	if conf != nil {
		conn, err = tls.Dial("tcp", addr, conf)
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if send != "" {
		if _, err := io.WriteString(conn, send); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, bufio.NewReader(conn))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s: still open after 10s", addr)
	}
	return time.Since(start)
}

// TestTLSHTTPCommand: warmcgi http takes --tls-cert/--tls-key too, and
// serves its static files and its cgi-bin/ over HTTP/2.
func TestTLSHTTPCommand(t *testing.T) {
	site, _ := makeSite(t)
	c := newTestCert(t, "warmcgi-http", 9)
	certFile, keyFile := tlsFiles(t, worldReadableDir(t), c)
	_, p := startWarmcgiCmd(t, site, "http", "--directory", site, "0", "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(p.url, "https://127.0.0.1:") {
		t.Fatalf("listening on %s; want https://127.0.0.1:PORT/", p.url)
	}
	client := tlsClient(true, c)
	if proto, status, body := tlsGet(t, client, p.url+"a.txt"); proto != "HTTP/2.0" || status != 200 || body != "hello, static\n" {
		t.Errorf("a.txt: %s %d %q; want HTTP/2.0 200 \"hello, static\\n\"", proto, status, body)
	}
	if proto, status, body := tlsGet(t, client, p.url+"cgi-bin/env.py?q=1"); proto != "HTTP/2.0" || status != 200 || !strings.Contains(body, "QUERY_STRING = q=1\n") {
		t.Errorf("cgi-bin/env.py?q=1: %s %d; want HTTP/2.0 200 with QUERY_STRING = q=1:\n%s", proto, status, body)
	}
}

// TestTLSCutStreamedResponse: over HTTP/2, where the connection cannot be
// closed under one request, a streamed response cut by --timeout resets
// its stream, so the client sees the cut (as TestTimeoutCutsStreamedResponse
// does over HTTP/1.1), and the connection goes on serving.
func TestTLSCutStreamedResponse(t *testing.T) {
	c := newTestCert(t, "warmcgi-cut", 11)
	certFile, keyFile := tlsFiles(t, worldReadableDir(t), c)
	base, logs := startWarmcgi(t, testdataCGIBin(t), "--tls-cert", certFile, "--tls-key", keyFile, "--timeout", "1s")
	client := tlsClient(true, c)
	resp, err := client.Get(base + "cgi-bin/spin_streamed.py")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || resp.StatusCode != 200 || !strings.HasPrefix(string(body), "partial\n") {
		t.Errorf("%s %d, body %q; want HTTP/2.0 200 and the first line", resp.Proto, resp.StatusCode, body)
	}
	if err == nil {
		t.Errorf("the response ended normally (%q): want its stream reset, as the script was stopped", body)
	}
	if missing := waitForLog(t.Context(), logs, "streamed response cut short", "path=/cgi-bin/spin_streamed.py status=200"); missing != nil {
		t.Errorf("the cut request is not logged (%q):\n%s", missing, logs())
	}
	if proto, status, body := tlsGet(t, client, base+"cgi-bin/hello.py"); proto != "HTTP/2.0" || status != 200 || body != "Hello, world!\n" {
		t.Errorf("hello.py after the cut: %s %d %q", proto, status, body)
	}
}

// TestTLSAbandonedScript: over HTTP/2, a script that swallows the timeout
// exception is given up on as over HTTP/1.1 (TestAbandonedScriptParked):
// its client gets a 504, or, once its response has begun, a reset stream,
// instead of waiting for ever on a stream only the handler can end.
func TestTLSAbandonedScript(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the time limit; skipped with -short")
	}
	c := newTestCert(t, "warmcgi-abandon", 13)
	certFile, keyFile := tlsFiles(t, worldReadableDir(t), c)
	base, logs := startWarmcgi(t, testdataCGIBin(t), "--tls-cert", certFile, "--tls-key", keyFile, "--timeout", "1s", "-w", "2")
	client := tlsClient(true, c)
	if proto, status, body := tlsGet(t, client, base+"cgi-bin/faults/loop_swallow.py"); proto != "HTTP/2.0" || status != 504 || !strings.Contains(body, "Gateway Timeout") {
		t.Errorf("loop_swallow.py: %s %d %q; want HTTP/2.0 and a 504 page", proto, status, body)
	}
	resp, err := client.Get(base + "cgi-bin/faults/stream_swallow.py")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "started\n" || err == nil {
		t.Errorf("stream_swallow.py: %d %q %v; want 200, its first line, then a reset stream", resp.StatusCode, b, err)
	}
	if missing := waitForLog(t.Context(), logs, "script overran its time limit and cannot be stopped",
		"path=/cgi-bin/faults/loop_swallow.py status=504", "path=/cgi-bin/faults/stream_swallow.py status=200"); missing != nil {
		t.Errorf("log lacks %q:\n%s", missing, logs())
	}
	if proto, status, body := tlsGet(t, client, base+"cgi-bin/hello.py"); proto != "HTTP/2.0" || status != 200 || body != "Hello, world!\n" {
		t.Errorf("hello.py after the abandoned scripts: %s %d %q", proto, status, body)
	}
}

// TestTLSExpiredCertificate: an expired certificate is served (renewing it
// is a SIGHUP away), with a warning at start naming its end.
func TestTLSExpiredCertificate(t *testing.T) {
	end := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	c := newTestCertFor(t, "warmcgi-expired", 17, end.Add(-24*time.Hour), end)
	certFile, keyFile := tlsFiles(t, worldReadableDir(t), c)
	base, logs := startWarmcgi(t, testdataCGIBin(t), "--tls-cert", certFile, "--tls-key", keyFile)
	want := fmt.Sprintf(`level=WARN msg="TLS certificate is not valid now: clients will refuse it" subject="CN=warmcgi-expired" serial=17 not_after=%s`, end.Format(time.RFC3339))
	if !strings.Contains(logs(), want) {
		t.Errorf("no warning %q:\n%s", want, logs())
	}
	if got := servedSerial(t, base); got.Int64() != 17 {
		t.Errorf("served serial %v; want 17", got)
	}
}
