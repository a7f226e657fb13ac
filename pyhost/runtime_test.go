//go:build cgo

package pyhost

import (
	"io/fs"
	"strings"
	"testing"
)

// TestRuntimeFilesListed: every embedded runtime file is joined exactly
// once, and each ends with a newline, so no file's last line runs into
// the next file's first.
func TestRuntimeFilesListed(t *testing.T) {
	embedded, err := fs.Glob(runtimeFS, "runtime/*.py")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	for _, name := range runtimeFiles {
		listed["runtime/"+name]++
	}
	for _, path := range embedded {
		if listed[path] != 1 {
			t.Errorf("%s is listed %d times in runtimeFiles, want once", path, listed[path])
		}
		delete(listed, path)
		src, _ := runtimeFS.ReadFile(path)
		if !strings.HasSuffix(string(src), "\n") {
			t.Errorf("%s does not end with a newline", path)
		}
	}
	for path := range listed {
		t.Errorf("%s is listed in runtimeFiles but not embedded", path)
	}
}
