//go:build cgo

package pyhost

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildExt compiles ../testdata/ext/NAME.c against the linked Python into
// dir/NAME.so.
func buildExt(t *testing.T, dir string, names ...string) {
	t.Helper()
	cflags, err := exec.Command("pkg-config", "--cflags", "python3-embed").Output()
	if err != nil {
		t.Fatalf("pkg-config: %v", err)
	}
	for _, name := range names {
		args := append([]string{"-shared", "-fPIC", "-o", filepath.Join(dir, name+".so")}, strings.Fields(string(cflags))...)
		args = append(args, filepath.Join("..", "testdata", "ext", name+".c"))
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", name, err, out)
		}
	}
}

// TestProbeExtension: the probe (this test binary re-executed, early.c)
// tells single-phase from multi-phase init, and says when a file is no
// extension module.
func TestProbeExtension(t *testing.T) {
	dir := t.TempDir()
	buildExt(t, dir, "swiglike", "multiphase")
	ctx := context.Background()
	k, err := ProbeExtension(ctx, "swiglike", filepath.Join(dir, "swiglike.so"))
	if err != nil || !k.SinglePhase || k.Unsafe(false) != "single-phase init" {
		t.Errorf("swiglike: %+v %v", k, err)
	}
	k, err = ProbeExtension(ctx, "multiphase", filepath.Join(dir, "multiphase.so"))
	if err != nil || k.SinglePhase || k.Unsafe(OwnGILSupported()) != "" {
		t.Errorf("multiphase: %+v %v", k, err)
	}
	bogus := filepath.Join(dir, "bogus.so")
	if err := os.WriteFile(bogus, []byte("not ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	if k, err := ProbeExtension(ctx, "bogus", bogus); !errors.Is(err, ErrProbe) {
		t.Errorf("bogus: %+v %v, want ErrProbe", k, err)
	}
}

// TestExtGuardBeforeInit: with an ExtGuard, a sub-interpreter refuses a
// single-phase module with its reason, and its Result says the script
// needs another mode; the module's init never ran there: the main
// interpreter importing it afterwards runs the init itself (had a
// sub-interpreter run it first, the module would hold that one's
// sys.modules and answer "CORRUPT", as TestSubinterpUnsafeExtension shows).
func TestExtGuardBeforeInit(t *testing.T) {
	dir := t.TempDir()
	buildExt(t, dir, "swiglike")
	path, err := filepath.Abs(filepath.Join("..", "testdata", "cgi-bin", "ext", "swiglike.py"))
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	guard := func(module, file string) string {
		if module == "swiglike" {
			asked++
		}
		k, err := ProbeExtension(context.Background(), module, file)
		if err != nil {
			return err.Error()
		}
		return k.Unsafe(OwnGILSupported())
	}
	req := &Request{Path: path, Stamp: stampOf(t, path), Env: envBlock("SWIGLIKE_DIR=" + dir)}
	var res Result
	onThread2(t, InterpOptions{ExtGuard: guard}, func(ip *Interp) {
		for range 2 {
			if err := ip.Exec(req, &res); err != nil {
				t.Fatal(err)
			}
			// With a guard (auto), the script is stopped at the import,
			// to be run again in another mode.
			if !strings.Contains(res.Failure, "warmcgi: swiglike is not safe in sub-interpreters (single-phase init)") ||
				res.NeedsMode != "imports swiglike (single-phase init)" || len(res.Stdout) != 0 {
				t.Errorf("failure %q, stdout %q, NeedsMode %q", res.Failure, res.Stdout, res.NeedsMode)
			}
		}
	})
	if asked != 1 {
		t.Errorf("the guard was asked about swiglike %d times, want once (the interpreter keeps its verdict)", asked)
	}
	onThread2(t, mainOptions, func(ip *Interp) {
		if err := ip.Exec(req, &res); err != nil {
			t.Fatal(err)
		}
	})
	if got := string(res.Stdout); got != "Content-Type: text/plain\n\nswiglike ok\n" || res.NeedsMode != "" {
		t.Errorf("main interpreter after the refusal: %q (stderr %q, NeedsMode %q)", got, res.Stderr, res.NeedsMode)
	}
}
