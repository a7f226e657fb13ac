package main

// What check.go used from the code now in internal/backend, until check
// moves to internal/check and calls backend itself.

import (
	"github.com/warmcgi/warmcgi/internal/backend"
	"github.com/warmcgi/warmcgi/internal/procmode"
)

func python3Script(path string) (struct{}, bool) { return struct{}{}, backend.Python3Script(path) }

type dispatchRunner struct {
	root  string
	plain []string
}

func (d *dispatchRunner) forcedPlain(script string) bool {
	return backend.MatchesCGI(d.root, d.plain, script)
}

func appendBlock(b []byte, ss []string) []byte { return procmode.AppendBlock(b, ss) }
