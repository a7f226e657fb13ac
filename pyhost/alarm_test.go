//go:build cgo

package pyhost

import (
	"strings"
	"testing"
)

// TestAlarmAfterItsCall (COMPAT 76, finding F8): an alarm that comes due
// while other threads keep the GIL busy is delivered after
// signal.setitimer() has returned, never inside it, as under CGI where the
// call returns at once. alarm_race.py arms a 0.2 ms timer 30 times next to
// two threads that spin; before the fix about a third of the alarms
// surfaced inside the call.
func TestAlarmAfterItsCall(t *testing.T) {
	if v := strings.Fields(Version())[0]; !strings.HasPrefix(v, "3.11.") && !strings.HasPrefix(v, "3.12.") {
		// 3.13 can raise an asynchronous exception outside the try that
		// encloses the code it arrives in (CPython issue 139622), so what
		// the handler raises cannot be caught reliably there.
		t.Skipf("Python %s delivers asynchronous exceptions outside their try (CPython issue 139622)", v)
	}
	path := script(t, "alarm_race.py")
	onThread(t, func(ip *Interp) {
		var res Result
		if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &res); err != nil {
			t.Fatal(err)
		}
		if want := "Content-Type: text/plain\n\ninside 0 after 30\n"; string(res.Stdout) != want {
			t.Errorf("stdout %q, want %q (stderr %q)", res.Stdout, want, res.Stderr)
		}
	})
}
