package main

// Streaming in every isolation mode (COMPAT 28), and responses abandoned
// after their headers (a --timeout), which must look cut to the client in
// every mode, as Apache leaves them.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// streamTiming is when the parts of a response arrived.
type streamTiming struct {
	first   time.Duration // the first byte of the body, from the request
	end     time.Duration // the end of the response (EOF on the connection)
	body    []byte        // de-chunked
	cut     bool          // the connection closed before the body's end
	chunked bool
}

// timeStream sends a GET of target (Connection: close) to baseURL and
// times the arrival of the body's first byte and of the response's end.
func timeStream(t *testing.T, baseURL, target string) streamTiming {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	start := time.Now()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, u.Host)
	// The raw response and when each read of it came: the body's first
	// byte came with the first read that went past the header block.
	var raw []byte
	var at []time.Duration // at[i]: when raw reached ends[i] bytes
	var ends []int
	buf := make([]byte, 64<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			raw = append(raw, buf[:n]...)
			at, ends = append(at, time.Since(start)), append(ends, len(raw))
		}
		if err != nil {
			break
		}
	}
	var st streamTiming
	st.end = time.Since(start)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("%s: %v\n%q", target, err, raw)
	}
	st.chunked = len(resp.TransferEncoding) > 0
	st.body, err = io.ReadAll(resp.Body)
	st.cut = err != nil
	if resp.StatusCode != 200 {
		t.Fatalf("%s: status %d, body %q", target, resp.StatusCode, st.body)
	}
	head := bytes.Index(raw, []byte("\r\n\r\n")) + 4
	for i, e := range ends {
		if e > head {
			st.first = at[i]
			break
		}
	}
	return st
}

// TestStreamingModes: a script that prints and flushes a first line, then
// sleeps 2 s and prints the rest, gets its first line to the client well
// before the sleep ends (within 1 s) in process and fork mode, as in the
// default mode (auto: a sub-interpreter), where it always did. Process
// and fork mode sent the whole page when the script ended. The rest
// follows, and the response ends normally.
func TestStreamingModes(t *testing.T) {
	dir := sharedCGIBin(t)
	for _, mode := range []string{"process", "fork", "default", "plain"} {
		t.Run(mode, func(t *testing.T) {
			var args []string
			switch mode {
			case "plain": // a python3 process per request, as under Apache
				args = []string{"--cgi", "028-flush-sleep.py"}
			case "default":
			default:
				args = []string{"--isolation", mode}
			}
			base, _ := startWarmcgi(t, dir, append(args, "-w", "1")...)
			st := timeStream(t, base, "/cgi-bin/compat/028-flush-sleep.py?2")
			want := "first line, flushed\nthe rest, at the end\n"
			if string(st.body) != want || st.cut {
				t.Errorf("body %q (cut: %v), want %q, complete", st.body, st.cut, want)
			}
			if st.first > time.Second || st.end < 2*time.Second {
				t.Errorf("first line after %v, end after %v: want the first line within 1 s, the end after the 2 s sleep", st.first, st.end)
			}
		})
	}
}

// TestAbandonedAfterHeadersProcessModes: in process and fork mode, a
// script stopped by --timeout after its first line went out leaves a cut
// response (no last chunk), as over HTTP in the embedded modes
// (TestTimeoutCutsStreamedResponse) and as under Apache; a script that
// crashes after its first line went out ends its response where its
// output ends, complete, as Apache ends it (COMPAT 47: the conformance
// case 047-segfault-late compares that with Apache in fork mode).
func TestAbandonedAfterHeadersProcessModes(t *testing.T) {
	dir := sharedCGIBin(t)
	for _, mode := range []string{"process", "fork"} {
		t.Run(mode, func(t *testing.T) {
			base, logs := startWarmcgi(t, dir, "--isolation", mode, "-w", "1", "--timeout", "1s")
			st := timeStream(t, base, "/cgi-bin/spin_streamed.py")
			if string(st.body) != "partial\n" || !st.cut {
				t.Errorf("spin_streamed.py: body %q, cut %v: want the first line, then a cut connection", st.body, st.cut)
			}
			if st.first > 900*time.Millisecond {
				t.Errorf("spin_streamed.py: first line after %v, want it before the 1 s timeout", st.first)
			}
			// The line is logged once the cut is made: wait for it.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if missing := waitForLog(ctx, logs, "streamed response cut short"); len(missing) > 0 {
				t.Errorf("no cut in the log:\n%s", logs())
			}
			st = timeStream(t, base, "/cgi-bin/compat/047-segfault-late.py")
			if string(st.body) != "before the crash\n" || st.cut || !st.chunked {
				t.Errorf("047-segfault-late.py: body %q, cut %v, chunked %v: want the first line, streamed, and a complete end", st.body, st.cut, st.chunked)
			}
			// The server goes on.
			if st := timeStream(t, base, "/cgi-bin/hello.py"); string(st.body) != "Hello, world!\n" || st.cut {
				t.Errorf("hello.py after them: %q, cut %v: want it whole", st.body, st.cut)
			}
		})
	}
}

// TestFastCGICutBehindNginx: behind nginx (fastcgi_pass over TCP), a
// script stopped by --timeout after its first line went out reaches
// nginx's client as a cut response (the connection closes with no last
// chunk), as it does over HTTP, in the default mode and in process and
// fork mode: warmcgi resets the FastCGI connection, without
// FCGI_END_REQUEST, and nginx logs the reset as an upstream error (a plain
// close it would take for the end of the response: it does not keep
// FastCGI connections open by default). A complete streamed response still
// ends normally behind it, and nginx's next request is served.
func TestFastCGICutBehindNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and warmcgi; skipped with -short")
	}
	requireNginx(t)
	dir := sharedCGIBin(t)
	for _, mode := range []string{"default", "process", "fork"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"--listen", "127.0.0.1:0", "--fastcgi", "127.0.0.1:0", "--timeout", "1s", "-w", "1"}
			if mode != "default" {
				args = append(args, "--isolation", mode)
			}
			w := startWarmcgiFastCGI(t, dir, args...)
			n := startNginx(t, w.fastcgi)
			st := timeStream(t, n.url, "/cgi-bin/spin_streamed.py")
			if string(st.body) != "partial\n" || !st.cut {
				t.Errorf("spin_streamed.py behind nginx: body %q, cut %v: want the first line, then a cut connection", st.body, st.cut)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if missing := waitForLog(ctx, n.errorLog, "Connection reset by peer) while reading upstream"); len(missing) > 0 {
				t.Errorf("nginx's error log does not say the upstream reset the connection:\n%s", n.errorLog())
			}
			st = timeStream(t, n.url, "/cgi-bin/compat/028-flush-sleep.py?0.3")
			if want := "first line, flushed\nthe rest, at the end\n"; string(st.body) != want || st.cut || !st.chunked {
				t.Errorf("028-flush-sleep.py behind nginx: body %q, cut %v, chunked %v: want %q streamed and complete", st.body, st.cut, st.chunked, want)
			}
		})
	}
}

// checkStreams checks a conformance case that streams (COMPAT 28: the
// script flushes a first line, then works for a second): from Apache and
// from warmcgi, the body's first bytes arrive at least half a second
// before the response ends.
func checkStreams(t *testing.T, target, apacheURL, warmcgiURL string) {
	t.Helper()
	for _, s := range []struct{ name, url string }{{"apache", apacheURL}, {"warmcgi", warmcgiURL}} {
		st := timeStream(t, s.url, target)
		if st.end-st.first < 500*time.Millisecond || st.cut {
			t.Errorf("%s: the first line came %v after the request, the end %v (cut: %v): want the first line at least 0.5 s before the end",
				s.name, st.first, st.end, st.cut)
		}
	}
}
