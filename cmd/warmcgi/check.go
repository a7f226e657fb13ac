package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/warmcgi/warmcgi/internal/check"
)

const checkUsage = `Usage: warmcgi check [flags] DIR

Reports, for every file in DIR, how warmcgi would run it: embedded, as plain
CGI (and why), not at all (and why), whether it compiles, which constructs
need a specific mode, which installed imports refuse sub-interpreters, and
the mode --isolation auto (the default) runs each embedded script in, and why.
Exit status: 0 when every script can be served, 3 when one needs attention
(a Python script that does not compile answers 500), 1 when the check itself
failed, 2 for a bad command line.

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
	status := exitOK
	for _, r := range results {
		if r.Mode == check.Fails {
			status = exitAttention
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range results {
			enc.Encode(r)
		}
		return status
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
		if r.Auto != "" && r.Auto != "subinterp" {
			fmt.Fprintf(stdout, "           auto → %s\n", r.Auto)
		}
	}
	return status
}

// checkDir runs the report with serve's dispatch rules (--cgi globs,
// shebangs) and an embedded interpreter for the checker.
func checkDir(dir string, plain []string) ([]check.Result, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return check.Dir(root, check.ServeRules(root, plain))
}
