package main

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProcessLeftovers: in process mode one worker process serves request
// after request on fds 0-2 that are new pipes each time, and nothing a
// request left behind may reach the next one: leftover.py, for a client
// that hangs up after the headers, leaves output in C's stdout buffer, in
// a stdout pipe the server stopped reading (far more than it holds), in
// Python's stdout buffer and in Python's stderr buffer after its fd was
// closed. On the same worker (-w 1) hello.py then answers exactly hello,
// cstdout.py exactly what it wrote through C's stdout (unflushed: sent as
// a CGI process's exit would), and no leftover stderr is logged as
// another script's.
func TestProcessLeftovers(t *testing.T) {
	base, logs := startWarmcgi(t, testdataCGIBin(t), "-w", "1", "--isolation", "process")
	client := &http.Client{Timeout: 30 * time.Second}
	for round := range 2 {
		u, _ := url.Parse(base)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte("GET /cgi-bin/leftover.py HTTP/1.1\r\nHost: x\r\n\r\n"))
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("round %d: leftover.py: %v\n%s", round, err, logs())
		}
		if resp.StatusCode != 200 {
			t.Fatalf("round %d: leftover.py: status %d\n%s", round, resp.StatusCode, logs())
		}
		conn.Close() // after the headers: the flood's client is gone
		for _, c := range []struct{ script, want string }{
			{"hello.py", "Hello, world!\n"},
			{"cstdout.py", "from C\n"},
			{"hello.py", "Hello, world!\n"},
		} {
			code, body, err := fetch(t, client, base+"cgi-bin/"+c.script)
			if err != nil || code != 200 || body != c.want {
				t.Fatalf("round %d: %s after leftover.py: %d %v %.300q; want exactly %q\n%s",
					round, c.script, code, err, body, c.want, logs())
			}
		}
	}
	for _, line := range strings.Split(logs(), "\n") {
		if strings.Contains(line, "LEFTOVER") && !strings.Contains(line, "leftover.py") {
			t.Errorf("leftover.py's output logged as another request's: %.300s", line)
		}
	}
}

// TestProcessEnvironKept: a process-mode worker sets the request's whole
// C environment before each request, and C code that kept what getenv
// returned in one request still reads that string in later ones (as in a
// CGI process, where nothing frees it): getenvptr.py reads the string at
// the address the first request's getenv gave, after requests whose
// environments had other values of the same size.
func TestProcessEnvironKept(t *testing.T) {
	base, logs := startWarmcgi(t, testdataCGIBin(t), "-w", "1", "--isolation", "process")
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(query, keep string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"cgi-bin/getenvptr.py?"+query, nil)
		req.Header.Set("X-Keep", keep)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil || resp.StatusCode != 200 {
			t.Fatalf("getenvptr.py?%s: %d %v %q\n%s", query, resp.StatusCode, err, b.String(), logs())
		}
		return strings.TrimSpace(b.String())
	}
	addr := get("keep", "AAAAAAAAAAAA")
	if _, err := strconv.ParseUint(addr, 10, 64); err != nil {
		t.Fatalf("getenv's address: %q", addr)
	}
	for i := range 6 {
		want := "BBBBBBBBBBB" + strconv.Itoa(i)
		if got := get("show", want); got != want {
			t.Fatalf("HTTP_X_KEEP in request %d: %q, want %q", i+2, got, want)
		}
	}
	if got := get("read="+addr, "CCCCCCCCCCCC"); got != "AAAAAAAAAAAA" {
		t.Errorf("the string getenv returned in the first request reads %q in a later one, want %q", got, "AAAAAAAAAAAA")
	}
}
