package cgienv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHandlerAbandon: a Runner that gives up on a script still running
// (Request.Abandon) gets the client answered at once, with a 504 or a cut
// connection when the response had begun; what the script does afterwards
// never reaches the client, and the request is logged and observed once.
func TestHandlerAbandon(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	answers := map[string][]StreamAnswer{}
	var kept *Request
	note := func(name string, a StreamAnswer) {
		mu.Lock()
		answers[name] = append(answers[name], a)
		mu.Unlock()
	}
	var observed []RequestInfo
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		// Gives up before any output.
		"early.py": func(req *Request) (*Output, error) {
			if !req.Abandon() {
				t.Error("Abandon reported false while the request ran")
			}
			if !req.Abandon() {
				t.Error("a second Abandon reported false")
			}
			note("early.py", req.Stream([]byte("Content-Type: text/plain\n\nlate\n")))
			<-release
			return &Output{Stdout: []byte("Content-Type: text/plain\n\nlate\n")}, nil
		},
		// Gives up once part of the body is out.
		"midway.py": func(req *Request) (*Output, error) {
			note("midway.py", req.Stream([]byte("Content-Type: text/plain\n\npart one\n")))
			if !req.Abandon() {
				t.Error("Abandon reported false while the request ran")
			}
			note("midway.py", req.Stream([]byte("part two\n")))
			<-release
			return &Output{Stdout: []byte("the end\n")}, nil
		},
		// Keeps its request, to give up after Run returned.
		"done.py": func(req *Request) (*Output, error) {
			kept = req
			return &Output{Stdout: []byte("Content-Type: text/plain\n\nok\n")}, nil
		},
	}, func(h *Handler) {
		h.Observe = func(_ *http.Request, info *RequestInfo) {
			mu.Lock()
			observed = append(observed, *info)
			mu.Unlock()
		}
	})

	// The answers come while the runners still wait for release.
	resp, body := get(t, fx.srv+"/cgi-bin/early.py")
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "Gateway Timeout") {
		t.Errorf("early.py: %d %q, want a 504 page", resp.StatusCode, body)
	}
	resp, err := http.Get(fx.srv + "/cgi-bin/midway.py")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "part one\n" || err == nil {
		t.Errorf("midway.py: %d %q %v, want 200, the first part, then a cut connection", resp.StatusCode, b, err)
	}
	close(release)

	resp, body = get(t, fx.srv+"/cgi-bin/done.py")
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("done.py: %d %q", resp.StatusCode, body)
	}
	if kept.Abandon() {
		t.Error("Abandon after Run returned reported true")
	}

	// The scripts' late output and the records of the abandoned requests
	// may come just after their answers.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		if len(observed) == 3 && len(answers["early.py"]) == 1 && len(answers["midway.py"]) == 2 || time.Now().After(deadline) {
			break
		}
		mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	defer mu.Unlock()
	if a := answers["early.py"]; len(a) != 1 || a[0] != StreamGone {
		t.Errorf("early.py's output after Abandon was answered %v, want [StreamGone]", a)
	}
	if a := answers["midway.py"]; len(a) != 2 || a[0] != StreamSent || a[1] != StreamGone {
		t.Errorf("midway.py's output was answered %v, want [StreamSent StreamGone]", a)
	}
	want := map[string]struct {
		status int
		bytes  int64
	}{"early.py": {504, -1}, "midway.py": {200, int64(len("part one\n"))}, "done.py": {200, 3}}
	if len(observed) != 3 {
		t.Fatalf("%d requests observed, want 3: %+v", len(observed), observed)
	}
	for _, info := range observed {
		name := info.ScriptName[strings.LastIndex(info.ScriptName, "/")+1:]
		w := want[name]
		if info.Status != w.status || info.TimedOut != (name != "done.py") || (w.bytes >= 0 && info.Bytes != w.bytes) {
			t.Errorf("%s observed as %+v, want status %d, %d bytes, timed out %v", name, info, w.status, w.bytes, name != "done.py")
		}
	}
	n := 0
	fx.logs.mu.Lock()
	defer fx.logs.mu.Unlock()
	for _, r := range fx.logs.records {
		if r.Message == "request" {
			n++
		}
		if r.Message == "script overran its time limit and cannot be stopped: the client is answered, the script runs on in an abandoned interpreter" && r.Level != slog.LevelError {
			t.Errorf("abandon logged at %v", r.Level)
		}
	}
	if n != 3 {
		t.Errorf("%d request records, want 3", n)
	}
}

// TestHandlerAbandonStreamedBody: a script blocked reading a body that
// the client stopped sending is let go when its request is abandoned: the
// read fails, and the client gets its 504 at once.
func TestHandlerAbandonStreamedBody(t *testing.T) {
	readErr := make(chan error, 1)
	release := make(chan struct{})
	fx := newFixture(t, map[string]func(*Request) (*Output, error){
		"upload.py": func(req *Request) (*Output, error) {
			if req.StdinStream == nil {
				return nil, errors.New("no StdinStream")
			}
			go func() {
				time.Sleep(100 * time.Millisecond) // the script is blocked in the read by then
				req.Abandon()
			}()
			_, err := io.ReadAll(req.StdinStream)
			readErr <- err
			<-release // a script that overran goes on after its read failed
			return &Output{Stdout: []byte("Content-Type: text/plain\n\nlate\n")}, nil
		},
	}, func(h *Handler) { h.StreamBodies = true })

	conn, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	part := strings.Repeat("x", 2*streamAt)
	fmt.Fprintf(conn, "POST /cgi-bin/upload.py HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", 4*streamAt, part)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	close(release)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	select {
	case err := <-readErr:
		if err == nil {
			t.Error("the read of the body that stopped coming ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the script's read did not return")
	}
}
