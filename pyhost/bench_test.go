//go:build cgo

package pyhost

import (
	"runtime"
	"strings"
	"testing"
)

// BenchmarkExec measures one request inside one interpreter: the single
// cgo call, the runtime's swap, and the script. "hello.py,after" runs
// hello.py in an interpreter that has run manymodules.py once, as a worker
// does that has also served a larger application: what each request's
// work costs per loaded module.
func BenchmarkExec(b *testing.B) {
	for _, name := range []string{"hello.py", "environ.py", "page.py", "manymodules.py", "hello.py,after"} {
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
			req := &Request{Path: path, Stamp: stampOf(b, path), Env: envBlock(
				"QUERY_STRING=a=1", "REQUEST_METHOD=GET", "SERVER_NAME=127.0.0.1", "SERVER_PORT=8080",
				"HTTP_HOST=127.0.0.1:8080", "HTTP_USER_AGENT=bench", "PATH=/usr/bin:/bin", "SCRIPT_NAME=/cgi-bin/x.py",
				"REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=5555", "GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1")}
			b.ReportAllocs()
			for b.Loop() {
				if err := ip.Exec(req, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
