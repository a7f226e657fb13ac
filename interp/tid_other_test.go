//go:build !linux

package interp

func threadAlive(tid int) bool { return false }
