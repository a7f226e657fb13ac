package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/warmcgi/warmcgi/internal/check"
	"github.com/warmcgi/warmcgi/pyhost"
)

const checkUsage = `Usage: warmcgi check [flags] DIR

Reports, for every file in DIR, how warmcgi would run it: embedded, as plain
CGI (and why), not at all (and why), whether it compiles, which constructs
need a specific mode, and which installed imports refuse sub-interpreters.

Flags:
`

func checkCmd(args []string, stdout, stderr io.Writer) int {
	fset := pflag.NewFlagSet("warmcgi check", pflag.ContinueOnError)
	fset.SetOutput(stderr)
	asJSON := fset.Bool("json", false, "one JSON object per file instead of text")
	var plain []string
	fset.StringArrayVar(&plain, "cgi", nil, "treat scripts matching this glob as plain CGI, as serve --cgi does (repeatable)")
	fset.Usage = func() {
		fmt.Fprint(stderr, checkUsage)
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fset.NArg() != 1 {
		fmt.Fprintln(stderr, "warmcgi check: exactly one DIR is required")
		fset.Usage()
		return exitUsage
	}
	results, err := checkDir(fset.Arg(0), plain)
	if err != nil {
		fmt.Fprintf(stderr, "warmcgi check: %v\n", err)
		return exitStartup
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range results {
			enc.Encode(r)
		}
		return exitOK
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "%-9s  %s", r.Mode, r.Path)
		if r.Why != "" {
			fmt.Fprintf(stdout, ": %s", r.Why)
		}
		fmt.Fprintln(stdout)
		for _, c := range r.Constructs {
			fmt.Fprintf(stdout, "           line %d: %s (COMPAT %d): %s\n", c.Line, c.Call, c.Compat, c.Note)
		}
		for _, m := range r.RefusedImports {
			fmt.Fprintf(stdout, "           import %s refuses sub-interpreters: %s\n", m.Module, m.Error)
		}
	}
	return exitOK
}

// checkDir runs the report with serve's dispatch rules (--cgi globs,
// shebangs) and an embedded interpreter for the checker.
func checkDir(dir string, plain []string) ([]check.Result, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	d := &dispatchRunner{root: root, plain: plain}
	return check.Dir(root, check.Backend{
		ForcedPlain: d.forcedPlain,
		Embedded: func(path string) bool {
			_, ok := python3Script(path)
			return ok
		},
		Run: runEmbedded,
	})
}

// runEmbedded runs a Python script in an embedded interpreter on its own
// locked thread, as a CGI script, and returns its standard output.
func runEmbedded(path string, args []string) ([]byte, error) {
	if err := pyhost.Init(pyhost.Config{}); err != nil {
		return nil, err
	}
	var res pyhost.Result
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the interpreter
		ip, err := pyhost.NewInterp(pyhost.InterpOptions{OwnGIL: pyhost.OwnGILSupported()})
		if err != nil {
			errc <- err
			return
		}
		defer ip.Close()
		st, _ := os.Stat(path)
		errc <- ip.Exec(&pyhost.Request{
			Path:  path,
			Stamp: [4]int64{st.ModTime().UnixNano(), st.Size()},
			Env:   []byte("PATH=/usr/local/bin:/usr/bin:/bin\x00"),
			Args:  appendBlock(nil, args),
		}, &res)
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	if res.Failure != "" {
		return nil, fmt.Errorf("checker failed: %s\n%s", res.Failure, res.Stderr)
	}
	return res.Stdout, nil
}
