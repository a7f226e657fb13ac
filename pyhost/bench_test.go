//go:build cgo

package pyhost

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkExec measures one request inside one interpreter: the single
// cgo call, the runtime's swap, and the script. "hello.py,after" runs
// hello.py in an interpreter that has run manymodules.py once, as a worker
// does that has also served a larger application: what each request's
// work costs per loaded module. "form.py" is the comparison harness's form
// handler: cgi.FieldStorage parsing a urlencoded POST body (on 3.13+ the
// cgi module is python3-legacy-cgi's; without it the case is skipped).
func BenchmarkExec(b *testing.B) {
	const formBody = "name=Ada+Lovelace&email=ada%40example.org&topic=cgi&topic=wsgi&topic=go&" +
		"comment=Hello+from+the+benchmark%21+%3Cb%3Enot+bold%3C%2Fb%3E&subscribe=on"
	for _, name := range []string{"hello.py", "environ.py", "page.py", "form.py", "manymodules.py", "hello.py,after"} {
		b.Run(name, func(b *testing.B) {
			runtime.LockOSThread() // this goroutine ends with the sub-benchmark: the thread is not reused
			ip, err := NewInterp(InterpOptions{OwnGIL: OwnGILSupported()})
			if err != nil {
				b.Fatal(err)
			}
			defer ip.Close()
			var res Result
			name, after, _ := strings.Cut(name, ",")
			if after != "" {
				first := script(b, "manymodules.py")
				if err := ip.Exec(&Request{Path: first, Stamp: stampOf(b, first)}, &res); err != nil {
					b.Fatal(err)
				}
			}
			path := script(b, name)
			if name == "form.py" {
				path = script(b, "../../benchmarks/cgi-bin/formpost.py")
			}
			req := &Request{Path: path, Stamp: stampOf(b, path), Env: envBlock(
				"QUERY_STRING=a=1", "REQUEST_METHOD=GET", "SERVER_NAME=127.0.0.1", "SERVER_PORT=8080",
				"HTTP_HOST=127.0.0.1:8080", "HTTP_USER_AGENT=bench", "PATH=/usr/bin:/bin", "SCRIPT_NAME=/cgi-bin/x.py",
				"REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=5555", "GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1")}
			if name == "form.py" {
				req.Env = envBlock("REQUEST_METHOD=POST", "CONTENT_TYPE=application/x-www-form-urlencoded",
					"CONTENT_LENGTH="+strconv.Itoa(len(formBody)), "SERVER_NAME=127.0.0.1", "SERVER_PORT=8080",
					"HTTP_HOST=127.0.0.1:8080", "PATH=/usr/bin:/bin", "SCRIPT_NAME=/cgi-bin/form.py",
					"REMOTE_ADDR=127.0.0.1", "GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1")
				req.Body = []byte(formBody)
				if err := ip.Exec(req, &res); err != nil {
					b.Fatal(err)
				}
				if !strings.Contains(string(res.Stdout), "<dd>Ada Lovelace</dd>") {
					b.Skipf("form.py did not answer (no cgi module?): %s %s", res.Stdout, res.Stderr)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := ip.Exec(req, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
