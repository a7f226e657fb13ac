package frontend

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkFastCGIRequest: one small request and response through
// FastCGIServer over loopback TCP, as nginx sends it: on a kept connection
// (fastcgi_keep_conn on) and on a new connection each (nginx's default).
// The client writes each request's records in one write, as nginx does.
func BenchmarkFastCGIRequest(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := NewFastCGIServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, world!\n")
	}), false, discard())
	go s.Serve(ln)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	var params []byte
	for k, v := range nginxParams() {
		params = appendPair(params, k, v)
	}
	request := func(keep byte) []byte {
		rec := func(out []byte, typ byte, content []byte) []byte {
			out = append(out, 1, typ, 0, 1, byte(len(content)>>8), byte(len(content)), 0, 0)
			return append(out, content...)
		}
		var out []byte
		out = rec(out, fcgiBeginRequest, []byte{0, fcgiResponder, keep, 0, 0, 0, 0, 0})
		out = rec(out, fcgiParams, params)
		out = rec(out, fcgiParams, nil)
		return rec(out, fcgiStdin, nil)
	}
	// roundTrip sends one request and reads records up to FCGI_END_REQUEST.
	roundTrip := func(b *testing.B, c net.Conn, r *bufio.Reader, req []byte) {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		for {
			var h [8]byte
			if _, err := io.ReadFull(r, h[:]); err != nil {
				b.Fatal(err)
			}
			if _, err := r.Discard(int(h[4])<<8 | int(h[5]) + int(h[6])); err != nil {
				b.Fatal(err)
			}
			if h[1] == fcgiEndRequest {
				return
			}
		}
	}
	b.Run("keep_conn", func(b *testing.B) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		r, req := bufio.NewReader(c), request(fcgiKeepConn)
		b.ReportAllocs()
		for b.Loop() {
			roundTrip(b, c, r, req)
		}
	})
	b.Run("conn_per_request", func(b *testing.B) {
		req := request(0)
		b.ReportAllocs()
		for b.Loop() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			roundTrip(b, c, bufio.NewReader(c), req)
			c.Close()
		}
	})
}
