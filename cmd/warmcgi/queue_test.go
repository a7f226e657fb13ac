package main

import (
	"io"
	"net/http"
	"sync"
	"testing"
)

// burst sends n concurrent requests for url and counts the answers by
// status (-1: no answer).
func burst(t *testing.T, url string, n int) map[int]int {
	t.Helper()
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := -1
			if resp, err := client.Get(url); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return codes
}

// TestQueueBurst: a burst of 32 slow requests (0.2 s each) at two
// workers waits and is served, as Apache lets it wait in its listen
// backlog, in the default configuration; the old default queue (4 per
// worker, --queue 8 here) turned most of it away with 503.
func TestQueueBurst(t *testing.T) {
	dir := sharedCGIBin(t)
	const n = 32
	def, _ := startWarmcgi(t, dir, "-w", "2")
	if codes := burst(t, def+"cgi-bin/sleep.py?0.2", n); codes[200] != n {
		t.Errorf("default queue: a burst of %d slow requests at -w 2 got %v, want all 200", n, codes)
	}
	small, _ := startWarmcgi(t, dir, "-w", "2", "--queue", "8")
	if codes := burst(t, small+"cgi-bin/sleep.py?0.2", n); codes[503] == 0 {
		t.Errorf("--queue 8: a burst of %d got %v, want some 503 (the queue bound holds)", n, codes)
	}
}
