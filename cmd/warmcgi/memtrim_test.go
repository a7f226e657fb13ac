package main

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWorkerIdleTrim: what a script freed is given back to the kernel
// once the worker has run no request for a second (pyhost.TrimWhenIdle):
// a process-mode worker's anonymous memory falls after memchurn.py, where
// without the trim it stays at its peak for the worker's life.
func TestWorkerIdleTrim(t *testing.T) {
	p := startWarmcgiProcess(t, testdataCGIBin(t), "--isolation", "process", "-w", "1")
	client := &http.Client{Timeout: 30 * time.Second}
	code, body, err := fetch(t, client, p.url+"cgi-bin/memchurn.py")
	if err != nil || code != 200 {
		t.Fatalf("memchurn.py: %d %v %q", code, err, body)
	}
	pid := strings.Fields(body)[0]
	anon := func() int {
		t.Helper()
		b, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
				kb, err := strconv.Atoi(strings.Fields(v)[0])
				if err != nil {
					t.Fatal(err)
				}
				return kb
			}
		}
		t.Fatal("no RssAnon in /proc/PID/status")
		return 0
	}
	peak := anon()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		now := anon()
		if now <= peak-2048 {
			t.Logf("worker %s: %d KiB anonymous after the request, %d KiB once idle", pid, peak, now)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s: %d KiB anonymous after the request, still %d KiB after 10 s idle", pid, peak, now)
		}
	}
}
