//go:build cgo

package pyhost

/*
#include "pyhost.h"
*/
import "C"

import (
	_ "embed"
	"slices"
)

// The Python of the fork template (--isolation fork), which pyhost/early.c
// reads from the template's socket and runs: template.py, learn.py (its
// learned imports and sub-templates), the runtime's importwarn.py (the
// warnings of the modules a sub-template imports, given to the scripts
// that import them), then the call that starts it.
var (
	//go:embed fork/template.py
	forkTemplatePy []byte
	//go:embed fork/learn.py
	forkLearnPy []byte
	//go:embed runtime/importwarn.py
	forkImportWarnPy []byte
	forkTemplate     = slices.Concat(forkTemplatePy, []byte("\n\n"), forkLearnPy, []byte("\n\n"), forkImportWarnPy,
		[]byte("\n\n_main()\n"))
)

// ForkTemplate is what a fork template needs from this package: its
// Python source, the modules warmcgi brings ("name\x00source\x00" each,
// offered where the standard library lacks them), and the program name
// and bytecode cache Init would use.
type ForkTemplate struct {
	Source     []byte
	Pylib      []byte
	Program    string
	PycacheDir string
}

// NewForkTemplate returns the fork template's source and settings for a
// server whose Init would be given cfg. It does not start Python here.
func NewForkTemplate(cfg Config) ForkTemplate {
	return ForkTemplate{Source: forkTemplate, Pylib: pylibBlock(), Program: programName(), PycacheDir: cfg.PycachePrefix}
}

// ForkTemplateEnv is the environment variable that makes this binary a
// fork template (PH_FORK_TEMPLATE_ENV in pyhost.h).
func ForkTemplateEnv() string { return C.GoString(C.ph_fork_template_env()) }
