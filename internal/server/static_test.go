package server

import "testing"

// TestPythonAtLeast: the version lines Py_GetVersion gives, released and
// in development, against the 3.14 that changes http.server's listing.
func TestPythonAtLeast(t *testing.T) {
	for v, want := range map[string]bool{
		"3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]": false,
		"3.13.5 (main, Jun 25 2025, 18:55:22) [GCC 14.2.0]": false,
		"3.14.0 (main, Oct 26 2025, 15:12:00) [GCC 15.2.0]": true,
		"3.14.0+ (heads/3.14:abc, Nov 1 2025)":              true,
		"3.15.0a1 (main)":                                   true,
		"4.0.0":                                             true,
		"":                                                  false,
		"garbage":                                           false,
	} {
		if got := pythonAtLeast(v, 3, 14); got != want {
			t.Errorf("pythonAtLeast(%q, 3, 14) = %v, want %v", v, got, want)
		}
	}
}
