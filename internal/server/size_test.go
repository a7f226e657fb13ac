package server

import "testing"

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"1048576", 1 << 20, false},
		{"64K", 64 << 10, false},
		{"64KiB", 64 << 10, false},
		{"10MiB", 10 << 20, false},
		{"1G", 1 << 30, false},
		{"2tb", 2 << 40, false},
		{" 512m ", 512 << 20, false},
		{"0", 0, false},
		{"", 0, true},
		{"-1", 0, true},
		{"1.5G", 0, true},
		{"G", 0, true},
		{"12X", 0, true},
		{"007", 0, true},
	} {
		got, err := ParseSize(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// TestCleanupStack: close undoes what was started, last first, once.
func TestCleanupStack(t *testing.T) {
	var s Server
	var order []int
	for i := range 3 {
		s.deferUndo(func() { order = append(order, i) })
	}
	s.close()
	s.close()
	if len(order) != 3 || order[0] != 2 || order[1] != 1 || order[2] != 0 {
		t.Errorf("cleanup order %v, want [2 1 0] once", order)
	}
}
