package procmode

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain makes this test binary a worker process too: a Slot starts
// /proc/self/exe as `worker CONFIG`, which here runs fakeExec instead of
// Python, so the protocol, the pipes and the parent's request loop are
// tested (and benchmarked) in real processes without cgo.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := RunChild(os.Args[2:], func(WorkerConfig) (Executor, error) { return fakeExec{}, nil }); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeExec runs a "script" named by the request's path, with the
// request's fds 0-2 in place, as a script in a worker process would, and
// then detaches them as the Python runtime does.
type fakeExec struct{}

const helloResponse = "Content-Type: text/plain\n\nHello, world!\n"

func (fakeExec) Exec(req *Request, res *Result) error {
	defer func() {
		null, _ := syscall.Open(os.DevNull, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
		for fd := 0; fd < 3; fd++ {
			syscall.Dup2(null, fd)
		}
		syscall.Close(null)
		if req.Path == "leave0and1closed" {
			// Fds 0 and 1 free when the next request's arrive: they land
			// there (see installFDs).
			syscall.Close(0)
			syscall.Close(1)
		}
	}()
	switch req.Path {
	case "hello":
		writeAll(1, []byte(helloResponse))
	case "echo": // stdin to stdout, a line to stderr
		b := readAllFD(0)
		writeAll(1, []byte("Content-Type: text/plain\n\n"))
		writeAll(1, b)
		writeAll(2, []byte("read "+itoa(len(b))+"\n"))
	case "big": // more than a pipe holds
		writeAll(1, []byte("Content-Type: text/plain\n\n"))
		writeAll(1, bytes.Repeat([]byte("x"), 1<<20))
	case "env":
		writeAll(1, []byte("Content-Type: text/plain\n\n"))
		writeAll(1, req.Env)
	case "stream": // a first chunk, a pause, the rest
		writeAll(1, []byte("Content-Type: text/plain\n\nfirst\n"))
		time.Sleep(150 * time.Millisecond)
		writeAll(1, []byte("second\n"))
	case "sleep":
		time.Sleep(time.Hour)
	case "die": // half a response, then the process ends (os._exit)
		writeAll(1, []byte("Content-Type: text/plain\n\npartial"))
		syscall.Exit(7)
	case "runtime": // output the runtime made itself (a compile error)
		res.Stderr = []byte("SyntaxError: invalid syntax\n")
		res.ExitCode, res.Failure = 1, "SyntaxError"
	}
	return nil
}

// readAllFD reads fd until EOF (no *os.File: its finalizer would close
// the fd).
func readAllFD(fd int) []byte {
	var b []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := syscall.Read(fd, buf)
		if n <= 0 || err != nil {
			return b
		}
		b = append(b, buf[:n]...)
	}
}

func itoa(n int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

func newTestSlot(t testing.TB) *Slot {
	t.Helper()
	p, err := NewPool(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.NewSlot(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// benchEnv is a typical CGI environment of a GET (about 30 variables).
func benchEnv() []string {
	env := []string{"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1", "REQUEST_METHOD=GET",
		"SCRIPT_NAME=/cgi-bin/hello.py", "SCRIPT_FILENAME=/srv/cgi-bin/hello.py", "REQUEST_URI=/cgi-bin/hello.py",
		"QUERY_STRING=", "SERVER_NAME=127.0.0.1", "SERVER_PORT=8080", "SERVER_ADDR=127.0.0.1",
		"REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=54321", "SERVER_SOFTWARE=warmcgi", "DOCUMENT_ROOT=/srv",
		"CONTEXT_DOCUMENT_ROOT=/srv/cgi-bin/", "CONTEXT_PREFIX=/cgi-bin/", "REQUEST_SCHEME=http",
		"SERVER_SIGNATURE=", "SERVER_ADMIN=[no address given]", "HTTP_HOST=127.0.0.1:8080",
		"HTTP_USER_AGENT=wrk", "HTTP_ACCEPT=*/*", "PATH=/usr/local/bin:/usr/bin:/bin"}
	for i := len(env); i < 30; i++ {
		env = append(env, "HTTP_X_"+itoa(i)+"=value")
	}
	return env
}

// TestSlotRun: a request's stdout, stderr, body and environment travel
// through a real worker process, and one that outgrows a pipe's buffer
// arrives whole.
func TestSlotRun(t *testing.T) {
	s := newTestSlot(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ { // the same worker serves request after request
		out, err := s.Run(ctx, &Job{Script: "hello"})
		if err != nil || string(out.Stdout) != helloResponse || len(out.Stderr) != 0 || out.ExitCode != 0 {
			t.Fatalf("hello: %+v, %v", out, err)
		}
	}
	body := bytes.Repeat([]byte("b"), 200<<10) // more than a pipe holds: fed while the script reads
	out, err := s.Run(ctx, &Job{Script: "echo", Stdin: body})
	if err != nil || !bytes.HasSuffix(out.Stdout, body) || string(out.Stderr) != "read 204800\n" {
		t.Fatalf("echo: %d bytes of stdout, stderr %q, %v", len(out.Stdout), out.Stderr, err)
	}
	out, err = s.Run(ctx, &Job{Script: "echo"})
	if err != nil || string(out.Stdout) != "Content-Type: text/plain\n\n" || string(out.Stderr) != "read 0\n" {
		t.Fatalf("echo, no body: %+v, %v", out, err)
	}
	out, err = s.Run(ctx, &Job{Script: "big"})
	if err != nil || len(out.Stdout) != len("Content-Type: text/plain\n\n")+1<<20 {
		t.Fatalf("big: %d bytes, %v", len(out.Stdout), err)
	}
	out, err = s.Run(ctx, &Job{Script: "env", Env: []string{"A=1", "B=2"}})
	if err != nil || !strings.HasSuffix(string(out.Stdout), "A=1\x00B=2\x00") {
		t.Fatalf("env: %q, %v", out.Stdout, err)
	}
	for _, name := range []string{"leave0and1closed", "echo", "leave0and1closed", "hello"} {
		out, err = s.Run(ctx, &Job{Script: name, Stdin: []byte("in")})
		if want := map[string]string{"echo": "Content-Type: text/plain\n\nin", "hello": helloResponse}[name]; err != nil || string(out.Stdout) != want {
			t.Fatalf("%s after a run that left fds 0 and 1 closed: %q, %v", name, out.Stdout, err)
		}
	}
	out, err = s.Run(ctx, &Job{Script: "runtime"})
	if err != nil || out.ExitCode != 1 || out.Failure != "SyntaxError" {
		t.Fatalf("runtime's own output: %+v, %v", out, err)
	}
}

// TestSlotRunDeadlineAndDeath: a request past its time limit is killed
// (ErrDeadline) and one whose process exits mid-response keeps what it
// wrote; the slot starts a new worker process for the next request.
func TestSlotRunDeadlineAndDeath(t *testing.T) {
	s := newTestSlot(t)
	ctx := context.Background()
	start := time.Now()
	if _, err := s.Run(ctx, &Job{Script: "sleep", Timeout: 300 * time.Millisecond}); !errors.Is(err, ErrDeadline) {
		t.Fatalf("sleep: %v, want ErrDeadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("deadline of 300ms took %v", d)
	}
	out, err := s.Run(ctx, &Job{Script: "die"})
	if err != nil || string(out.Stdout) != "Content-Type: text/plain\n\npartial" || out.ExitCode != 7 {
		t.Fatalf("die: %+v, %v", out, err)
	}
	out, err = s.Run(ctx, &Job{Script: "hello"})
	if err != nil || string(out.Stdout) != helloResponse {
		t.Fatalf("hello after a death: %+v, %v", out, err)
	}
}

// TestSlotRunStream: output a script writes, then pauses after, is
// offered to Job.Stream while the script still runs.
func TestSlotRunStream(t *testing.T) {
	s := newTestSlot(t)
	var chunks []string
	var at []time.Time
	start := time.Now()
	out, err := s.Run(context.Background(), &Job{Script: "stream", Stream: func(b []byte) StreamAnswer {
		chunks = append(chunks, string(b))
		at = append(at, time.Now())
		return StreamSent
	}})
	if err != nil || !out.Streamed {
		t.Fatalf("stream: %+v, %v", out, err)
	}
	got := strings.Join(chunks, "") + string(out.Stdout)
	if got != "Content-Type: text/plain\n\nfirst\nsecond\n" {
		t.Fatalf("stream: got %q", got)
	}
	if len(chunks) == 0 || chunks[0] != "Content-Type: text/plain\n\nfirst\n" || at[0].Sub(start) > 140*time.Millisecond {
		t.Fatalf("the first chunk was not offered while the script ran: %q at %v", chunks, at)
	}
}

// BenchmarkSlotRun is the process-mode request path without Python: a
// hello request with a CGI environment of 30 variables through a real
// worker process (frame, pipes, fds, reply), measured in the server.
func BenchmarkSlotRun(b *testing.B) {
	s := newTestSlot(b)
	job := &Job{Script: "hello", Env: benchEnv()}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := StartCPUCount()
	for i := 0; i < b.N; i++ {
		out, err := s.Run(ctx, job)
		if err != nil || len(out.Stdout) != len(helloResponse) {
			b.Fatalf("%+v, %v", out, err)
		}
	}
	cpu.Report(b)
}
