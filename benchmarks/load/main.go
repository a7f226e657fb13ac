// Command load is a small closed-loop HTTP load generator for places wrk
// is not installed (the debootstrapped roots of Debian 13 and sid that
// benchmarks/cpu-scaling.sh runs in): C connections, each sending the next
// request when the last answer has been read, for D; it prints requests
// per second and the count of non-200 answers (exit status 1 if none was
// 200).
//
//	go run ./benchmarks/load -c 4 -d 10s http://127.0.0.1:8080/cgi-bin/cpu5ms.py
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	conns := flag.Int("c", 4, "connections")
	dur := flag.Duration("d", 10*time.Second, "duration")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: load [-c N] [-d DUR] URL")
		os.Exit(2)
	}
	url := flag.Arg(0)
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	var ok, bad atomic.Int64
	end := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				resp, err := client.Get(url)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	secs := time.Since(start).Seconds()
	fmt.Printf("requests/s %.1f ok %d bad %d seconds %.1f\n", float64(ok.Load())/secs, ok.Load(), bad.Load(), secs)
	if ok.Load() == 0 {
		os.Exit(1)
	}
}
