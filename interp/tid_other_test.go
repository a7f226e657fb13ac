//go:build !linux

package interp

import "time"

func threadAlive(tid int) bool { return false }

// processCPU is not measured here: cpu-ns/op then reads 0.
func processCPU() time.Duration { return 0 }
