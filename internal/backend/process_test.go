package backend

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/warmcgi/warmcgi/cgienv"
)

// TestMain makes this test binary a process-mode worker too: the process
// backend starts /proc/self/exe as `worker CONFIG`, as serve starts the
// warmcgi binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := RunWorker(os.Args[2:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helloRequest is a GET of testdata/cgi-bin/hello.py with a CGI
// environment of the usual size.
func helloRequest(t testing.TB) *cgienv.Request {
	t.Helper()
	path, err := filepath.Abs("../../testdata/cgi-bin/hello.py")
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	env := []string{"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1", "REQUEST_METHOD=GET",
		"SCRIPT_NAME=/cgi-bin/hello.py", "SCRIPT_FILENAME=" + path, "REQUEST_URI=/cgi-bin/hello.py",
		"QUERY_STRING=", "SERVER_NAME=127.0.0.1", "SERVER_PORT=8080", "SERVER_ADDR=127.0.0.1",
		"REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=54321", "SERVER_SOFTWARE=warmcgi", "DOCUMENT_ROOT=/srv",
		"CONTEXT_DOCUMENT_ROOT=" + filepath.Dir(path) + "/", "CONTEXT_PREFIX=/cgi-bin/", "REQUEST_SCHEME=http",
		"SERVER_SIGNATURE=", "SERVER_ADMIN=[no address given]", "HTTP_HOST=127.0.0.1:8080",
		"HTTP_USER_AGENT=wrk", "HTTP_ACCEPT=*/*", "PATH=/usr/local/bin:/usr/bin:/bin"}
	return &cgienv.Request{Script: path, Env: env,
		Stamp: cgienv.Stamp{MtimeNs: st.Mtim.Nano(), Size: st.Size, Ino: st.Ino, Dev: st.Dev}}
}

func newTestProcess(t testing.TB) *process {
	t.Helper()
	p, err := newProcess(&Config{Workers: 1, PycacheDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.close(context.Background()) })
	return p
}

// TestProcessHello: hello.py answers through a worker process, request
// after request.
func TestProcessHello(t *testing.T) {
	p := newTestProcess(t)
	req := helloRequest(t)
	for i := 0; i < 3; i++ {
		out, err := p.run(context.Background(), req, shebangFlags{})
		if err != nil || out.ExitCode != 0 || !strings.HasSuffix(string(out.Stdout), "\n\nHello, world!\n") {
			t.Fatalf("request %d: %+v, %v", i, out, err)
		}
	}
}

// BenchmarkProcessHello is a process-mode request end to end below the
// HTTP server: the pool, the worker process, Python running hello.py.
func BenchmarkProcessHello(b *testing.B) {
	p := newTestProcess(b)
	req := helloRequest(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := StartCPUCount()
	for i := 0; i < b.N; i++ {
		out, err := p.run(ctx, req, shebangFlags{})
		if err != nil || out.ExitCode != 0 {
			b.Fatalf("%+v, %v", out, err)
		}
	}
	cpu.Report(b)
}
