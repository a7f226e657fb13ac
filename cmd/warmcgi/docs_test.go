package main

// The README's flag reference is the binary's own --help text, so the two
// cannot drift apart: this test fails when they differ, and
//
//	go test ./cmd/warmcgi -run TestREADMEFlags -update-readme
//
// (make docs) rewrites the README's blocks from the binary.

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's flag blocks from the binary's --help")

// helpBlocks are the README blocks kept equal to a command's --help output,
// each between "<!-- help: ARGS -->" and "<!-- end help -->".
var helpBlocks = [][]string{
	{"serve", "--help"},
	{"http", "--help"},
	{"check", "--help"},
}

func TestREADMEFlags(t *testing.T) {
	readme := filepath.Join("..", "..", "README.md")
	text, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	out := string(text)
	for _, args := range helpBlocks {
		cmd := exec.Command(warmcgiBin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("warmcgi %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		help := stdout.String() + stderr.String()
		begin := "<!-- help: " + strings.Join(args, " ") + " -->\n"
		const end = "<!-- end help -->"
		i := strings.Index(out, begin)
		if i < 0 {
			t.Fatalf("README.md has no %q block", strings.TrimSpace(begin))
		}
		j := strings.Index(out[i:], end)
		if j < 0 {
			t.Fatalf("README.md: block %q is not closed by %q", strings.TrimSpace(begin), end)
		}
		j += i
		want := begin + "```\n" + help + "```\n"
		if got := out[i:j]; got != want {
			if !*updateREADME {
				t.Errorf("README.md's block for `warmcgi %s` differs from the binary's --help; run `make docs`.\n--- README\n%s\n--- binary\n%s",
					strings.Join(args, " "), got, want)
				continue
			}
			out = out[:i] + want + out[j:]
		}
	}
	if *updateREADME && out != string(text) {
		if err := os.WriteFile(readme, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("README.md updated")
	}
}
