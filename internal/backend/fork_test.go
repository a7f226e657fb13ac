package backend

import (
	"testing"

	"github.com/warmcgi/warmcgi/internal/procmode"
	"github.com/warmcgi/warmcgi/pyhost"
)

// TestForkTemplateEnvName: the variable the server sets to start a fork
// template (procmode) is the one pyhost/early.c looks for before Go
// starts; were they to differ, the template would start as a server.
func TestForkTemplateEnvName(t *testing.T) {
	if c, g := pyhost.ForkTemplateEnv(), procmode.TemplateEnv; c != g {
		t.Fatalf("pyhost.h says %q, procmode says %q", c, g)
	}
}

func TestParseModeFork(t *testing.T) {
	m, err := parseMode("fork")
	if err != nil || m != modeFork || m.String() != "fork" {
		t.Fatalf("parseMode(fork) = %v, %v", m, err)
	}
	iso, err := ParseIsolation("subinterp", []string{"slow/*=fork"}, "/srv")
	if err != nil || !iso.UsesFork() || iso.modeFor("/srv/slow/a.py") != modeFork || iso.modeFor("/srv/b.py") != modeSubinterp {
		t.Fatalf("--isolation-for slow/*=fork: %v %v", iso, err)
	}
}
