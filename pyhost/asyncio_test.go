//go:build cgo

package pyhost

import (
	"path/filepath"
	"testing"
)

// TestAsyncioInTwoInterpreters: a script using asyncio's main-thread event
// loop runs in one interpreter, then twice in a second one while the first
// lives on. On 3.11 asyncio's C accelerator kept its state in statics made
// by the first interpreter to import it, so the second interpreter's
// asyncio.get_event_loop() went to the first one's asyncio (and raised
// "There is no current event loop"); sub-interpreters now use the
// pure-Python asyncio there.
func TestAsyncioInTwoInterpreters(t *testing.T) {
	path, err := filepath.Abs(filepath.Join("..", "testdata", "cgi-bin", "asyncio_loop.py"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "Content-Type: text/plain\n\nanswer 42\nmain thread True MainThread\n"
	run := func(ip *Interp, label string) {
		t.Helper()
		var res Result
		if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); err != nil {
			t.Fatal(err)
		}
		if string(res.Stdout) != want {
			t.Errorf("%s: stdout %q, want %q\nstderr:\n%s", label, res.Stdout, want, res.Stderr)
		}
	}
	onThread(t, func(first *Interp) {
		run(first, "first interpreter")
		onThread(t, func(second *Interp) {
			run(second, "second interpreter, run 1")
			run(second, "second interpreter, run 2")
		})
		run(first, "first interpreter again")
	})
}
