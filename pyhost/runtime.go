//go:build cgo

package pyhost

import (
	"embed"
	"strings"
)

// runtimeFS holds the warmcgi runtime, the Python installed in every
// interpreter before any script runs, split by area into files.
//
//go:embed runtime/*.py
var runtimeFS embed.FS

// runtimeFiles is the order the runtime's files are joined in: they are
// installed as one source in one namespace (pyhost.c, install_runtime,
// which names it "<warmcgi runtime>" in tracebacks), so a file's
// module-level code may use what an earlier file defined. install.py is
// last: its _install() makes the runtime's changes to the interpreter.
var runtimeFiles = []string{
	"sinks.py",
	"stdio.py",
	"environ.py",
	"modules.py",
	"importwarn.py",
	"extguard.py",
	"process.py",
	"signals.py",
	"fds.py",
	"children.py",
	"hooks.py",
	"state.py",
	"procmode.py",
	"run.py",
	"install.py",
}

// runtimeSource is the runtime as installed, after the settings prelude.
var runtimeSource = joinRuntime(runtimeFiles)

func joinRuntime(names []string) string {
	var b strings.Builder
	for _, name := range names {
		src, err := runtimeFS.ReadFile("runtime/" + name)
		if err != nil {
			panic("pyhost: runtime file " + name + " is not embedded: " + err.Error())
		}
		b.Write(src)
	}
	return b.String()
}
