package procmode

import (
	"os"
	"testing"
)

// TestSpareThreads: after spareThreads(n) the process has at least n
// threads besides the calling one, kept by the runtime for reuse.
func TestSpareThreads(t *testing.T) {
	const n = 8
	spareThreads(n)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip("no /proc/self/task:", err)
	}
	if len(tasks) < n+1 {
		t.Errorf("%d threads after spareThreads(%d), want at least %d", len(tasks), n, n+1)
	}
}
