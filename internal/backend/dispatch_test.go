package backend

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPython3Script(t *testing.T) {
	tests := []struct {
		name     string
		first    string
		embedded bool
		flags    shebangFlags
	}{
		{"plain", "#!/usr/bin/python3", true, shebangFlags{}},
		{"minor version", "#!/usr/local/bin/python3.11", true, shebangFlags{}},
		{"env", "#!/usr/bin/env python3", true, shebangFlags{}},
		{"space after bang", "#! /usr/bin/python3", true, shebangFlags{}},
		{"crlf", "#!/usr/bin/python3\r", true, shebangFlags{}},
		{"-u", "#!/usr/bin/python3 -u", true, shebangFlags{unbuffered: true}},
		{"-O", "#!/usr/bin/python3 -O", true, shebangFlags{optimize: 1}},
		{"-OO", "#!/usr/bin/python3 -OO", true, shebangFlags{optimize: 2}},
		{"-uOB", "#!/usr/bin/python3 -uOB", true, shebangFlags{unbuffered: true, optimize: 1, noBytecode: true}},
		{"-S needs its own process", "#!/usr/bin/python3 -S", false, shebangFlags{}},
		{"two flag words", "#!/usr/bin/python3 -u -O", false, shebangFlags{}},
		{"env with a flag", "#!/usr/bin/env python3 -u", false, shebangFlags{}},
		{"python 2", "#!/usr/bin/python", false, shebangFlags{}},
		{"python2", "#!/usr/bin/python2.7", false, shebangFlags{}},
		{"perl", "#!/usr/bin/perl -w", false, shebangFlags{}},
		{"no shebang", "import os", false, shebangFlags{}},
		{"python3 in a path word", "#!/opt/python3/bin/perl", false, shebangFlags{}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "s")
			if err := os.WriteFile(path, []byte(tt.first+"\nprint()\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			flags, embedded := python3Script(path)
			if embedded != tt.embedded || flags != tt.flags {
				t.Errorf("python3Script(%q) = %+v, %v; want %+v, %v", tt.first, flags, embedded, tt.flags, tt.embedded)
			}
		})
	}
}
