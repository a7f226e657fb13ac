package backend

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
)

func TestErrTimeout(t *testing.T) {
	err := timedOut("/s.py", "warmcgi-timeout: 1s")
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v: not ErrTimeout and context.DeadlineExceeded", err)
	}
	// Log lines read as before the typed error.
	if got, want := err.Error(), "/s.py: warmcgi-timeout: 1s: context deadline exceeded"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if errors.Is(context.Canceled, ErrTimeout) {
		t.Error("context.Canceled is ErrTimeout")
	}
}

func TestTimeLimit(t *testing.T) {
	if got := timeLimit(0).stuckAfter(); got != 0 {
		t.Errorf("no limit: stuckAfter %v, want 0 (never)", got)
	}
	if got := timeLimit(3 * time.Second).stuckAfter(); got != 3*time.Second+abandonGrace {
		t.Errorf("stuckAfter %v, want the limit plus %v", got, abandonGrace)
	}
	ctx, cancel := timeLimit(0).context(context.Background())
	defer cancel()
	if _, ok := ctx.Deadline(); ok {
		t.Error("no limit: the context has a deadline")
	}
}

// TestPlainCGITimeout: a plain CGI script past its limit is killed and
// reported as ErrTimeout; a canceled request is not a timeout.
func TestPlainCGITimeout(t *testing.T) {
	script := filepath.Join(t.TempDir(), "slow.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nsleep 10\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	req := &cgienv.Request{Script: script}
	start := time.Now()
	_, err := plainCGI{limit: timeLimit(200 * time.Millisecond)}.Run(context.Background(), req)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("after the limit: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the script ran %v: not killed at the limit", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = plainCGI{}.Run(ctx, req)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("canceled: %v, want context.Canceled, not ErrTimeout", err)
	}
}
