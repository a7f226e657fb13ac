//go:build cgo

package pyhost

import (
	"runtime"
	"testing"
)

// BenchmarkExec measures one request inside one interpreter: the single
// cgo call, the runtime's swap, and the script.
func BenchmarkExec(b *testing.B) {
	for _, name := range []string{"hello.py", "environ.py", "page.py", "manymodules.py"} {
		b.Run(name, func(b *testing.B) {
			runtime.LockOSThread() // this goroutine ends with the sub-benchmark: the thread is not reused
			ip, err := NewInterp(InterpOptions{OwnGIL: OwnGILSupported()})
			if err != nil {
				b.Fatal(err)
			}
			defer ip.Close()
			path := script(b, name)
			req := &Request{Path: path, Stamp: stampOf(b, path), Env: envBlock(
				"QUERY_STRING=a=1", "REQUEST_METHOD=GET", "SERVER_NAME=127.0.0.1", "SERVER_PORT=8080",
				"HTTP_HOST=127.0.0.1:8080", "HTTP_USER_AGENT=bench", "PATH=/usr/bin:/bin", "SCRIPT_NAME=/cgi-bin/x.py",
				"REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=5555", "GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1")}
			var res Result
			b.ReportAllocs()
			for b.Loop() {
				if err := ip.Exec(req, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
