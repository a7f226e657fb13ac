package cgienv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandlerAbandonHTTP2: over HTTP/2, where no connection can be taken
// over and a stream ends only when its handler returns, an abandoned
// request is still answered at once (504, or a reset stream once the
// response began) while its Runner goes on; a response cut by an error
// after it began resets its stream instead of ending normally; and a
// spooled body stays readable for the script that goes on.
func TestHandlerAbandonHTTP2(t *testing.T) {
	release := make(chan struct{})
	fileRead := make(chan error, 1)
	outputs := map[string]func(*Request) (*Output, error){
		"early.py": func(req *Request) (*Output, error) {
			if !req.Abandon() {
				t.Error("Abandon reported false over HTTP/2")
			}
			<-release
			return &Output{Stdout: []byte("Content-Type: text/plain\n\nlate\n")}, nil
		},
		"midway.py": func(req *Request) (*Output, error) {
			req.Stream([]byte("Content-Type: text/plain\n\npart one\n"))
			req.Abandon()
			if a := req.Stream([]byte("part two\n")); a != StreamGone {
				t.Errorf("output after Abandon answered %v, want StreamGone", a)
			}
			<-release
			return nil, nil
		},
		"cut.py": func(req *Request) (*Output, error) {
			req.Stream([]byte("Content-Type: text/plain\n\npartial\n"))
			return nil, fmt.Errorf("overran: %w", context.DeadlineExceeded)
		},
		"upload.py": func(req *Request) (*Output, error) {
			if req.StdinFile == nil {
				return nil, fmt.Errorf("no StdinFile")
			}
			req.Abandon()
			<-release // the client has its 504 and the handler has returned
			_, err := io.ReadAll(req.StdinFile)
			fileRead <- err
			return nil, nil
		},
	}
	root, _ := makeTree(t)
	for name := range outputs {
		addScripts(t, root, name)
	}
	h := &Handler{Root: root, Runner: &scripts{outputs: outputs}, Logger: slog.New(&logRecorder{})}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := srv.Client()

	fetch := func(method, name string, body []byte) (*http.Response, string, error) {
		req, err := http.NewRequest(method, srv.URL+"/cgi-bin/"+name, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.Proto != "HTTP/2.0" {
			t.Errorf("%s: answered over %s, want HTTP/2.0", name, resp.Proto)
		}
		return resp, string(b), err
	}
	if resp, body, err := fetch("GET", "early.py", nil); resp.StatusCode != 504 || !strings.Contains(body, "Gateway Timeout") || err != nil {
		t.Errorf("early.py: %d %q %v, want a 504 page", resp.StatusCode, body, err)
	}
	if resp, body, err := fetch("GET", "midway.py", nil); resp.StatusCode != 200 || body != "part one\n" || err == nil {
		t.Errorf("midway.py: %d %q %v, want 200, the first part, then a reset stream", resp.StatusCode, body, err)
	}
	if resp, body, err := fetch("GET", "cut.py", nil); resp.StatusCode != 200 || body != "partial\n" || err == nil {
		t.Errorf("cut.py: %d %q %v, want 200, the first part, then a reset stream", resp.StatusCode, body, err)
	}
	big := bytes.Repeat([]byte("b"), 3<<20) // over the in-memory limit: spooled to a file
	if resp, _, _ := fetch("POST", "upload.py", big); resp.StatusCode != 504 {
		t.Errorf("upload.py: %d, want 504", resp.StatusCode)
	}
	close(release)
	if err := <-fileRead; err != nil {
		t.Errorf("the abandoned script could not read its spooled body: %v", err)
	}
	if resp, body, err := fetch("GET", "cut.py", nil); resp.StatusCode != 200 || body != "partial\n" || err == nil {
		t.Errorf("cut.py again: %d %q %v", resp.StatusCode, body, err)
	}
}
