package backend

import (
	"context"
	"fmt"
	"time"
)

// ErrTimeout is the error of every request that ran past --timeout, in
// any backend. It also matches context.DeadlineExceeded (errors.Is), which
// cgienv answers with 504, and reads the same, so log lines are as before.
var ErrTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string        { return context.DeadlineExceeded.Error() }
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// abandonGrace is how long after --timeout a script that has not ended
// (it caught the exception that stops it, and the ones repeated each
// second after it, or it is blocked in C) is given up on: its client is
// answered and its interpreter left to it, a new one taking its place.
const abandonGrace = 2 * time.Second

// timeLimit is a request's time limit (--timeout; 0: none), counted from
// when a backend starts running the request. Every timer a backend sets
// derives from it, so it is the one owner of a request's deadline.
type timeLimit time.Duration

// interp is the limit the embedded runtime enforces inside the script
// (an exception raised at the limit, repeated each second).
func (t timeLimit) interp() time.Duration { return time.Duration(t) }

// stuckAfter is how long a request may run before the interp pool gives
// up on it: the limit, then abandonGrace for the script to end after the
// exception; never without a limit.
func (t timeLimit) stuckAfter() time.Duration {
	if t <= 0 {
		return 0
	}
	return time.Duration(t) + abandonGrace
}

// process is the limit of a request in a worker process, after which
// the process group is killed.
func (t timeLimit) process() time.Duration { return time.Duration(t) }

// context bounds ctx by the limit, for a plain CGI process.
func (t timeLimit) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if t <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, time.Duration(t))
}

// timedOut is the error of a script that ran past its limit.
func timedOut(script, detail string) error {
	return fmt.Errorf("%s: %s: %w", script, detail, ErrTimeout)
}
