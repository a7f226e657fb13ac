package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestImportWarnings: a DeprecationWarning that importing a module prints
// under the default filters reaches the error log on every request that
// imports it, as each CGI process prints it, in every mode: the module
// stays loaded between requests (issue 15, README's known differences).
// The conformance case 066-import-warnings checks the script's own view
// (recorded, raised, ignored) against Apache.
func TestImportWarnings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts warmcgi; skipped with -short")
	}
	dir := sharedCGIBin(t)
	const warning = "066-import-warnings.py:31: DeprecationWarning: module 'sre_parse' is deprecated"
	r := cc(66, "066-import-warnings", "/cgi-bin/compat/066-import-warnings.py").diffRequest
	for _, mode := range []string{"subinterp", "main", "process", "fork"} {
		t.Run(mode, func(t *testing.T) {
			base, logs := startWarmcgi(t, dir, "-w", "1", "--isolation", mode)
			const runs = 3
			for run := 1; run <= runs; run++ {
				got, err := doRaw(base, r)
				if err != nil {
					t.Fatal(err)
				}
				if got.code != 200 || !strings.Contains(string(got.body), "attempt 2 raised at line 27") {
					t.Fatalf("run %d: %q %q", run, got.statusLine, got.body)
				}
			}
			// Each run's stderr is logged as its request ends; the last
			// may still be on its way.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for {
				n := strings.Count(logs(), warning)
				if n == runs {
					break
				}
				if n > runs || ctx.Err() != nil {
					t.Fatalf("the warning is logged %d times after %d requests, want %d:\n%s", n, runs, runs, logs())
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
