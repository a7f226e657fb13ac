// Command static answers every request with the body of
// testdata/cgi-bin/hello.py from Go's net/http, with no Python behind it: the
// ceiling of an HTTP server in Go on the benchmark machine.
//
// It is its own module so that `go vet ./...` and `go test ./...` of warmcgi
// never see it; benchmarks/run.sh builds it into a temporary directory.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
)

var body = []byte("Hello, world!\n")

func hello(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8099", "address to serve on")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(hello)}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "static:", err)
		os.Exit(1)
	}
}
