package procmode

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CPUCount measures the CPU time a benchmark's requests cost: the test
// process's own and its child processes' (the worker processes, read
// from /proc while they live), reported per op as server-µs/op and
// worker-µs/op. Wall time per op misleads on a shared machine; CPU time
// is what bounds throughput when every core is busy.
type CPUCount struct{ self, kids time.Duration }

// StartCPUCount takes the starting figures.
func StartCPUCount() CPUCount { return CPUCount{selfCPU(), childrenCPU()} }

// Report adds the metrics to b.
func (c CPUCount) Report(b *testing.B) {
	self, kids := selfCPU()-c.self, childrenCPU()-c.kids
	b.ReportMetric(float64(self.Microseconds())/float64(b.N), "server-µs/op")
	b.ReportMetric(float64(kids.Microseconds())/float64(b.N), "worker-µs/op")
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childrenCPU sums utime and stime of the live children of this process.
func childrenCPU() time.Duration {
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	var ticks int64
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 || f[1] != me {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + k
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}
