//go:build !linux

package interp

import "time"

func gettid() int { return 0 }

// threadCPU is not known here: Spill then always moves a job that waited.
func threadCPU(int) time.Duration { return -1 }
