package main

// TestConformance is the COMPAT.md conformance suite: one script per case
// under testdata/cgi-bin/compat (and a few older scripts that had no
// differential test yet), each request sent to a real Apache mod_cgi and to
// warmcgi and compared with the normalisation of TestApacheDifferential,
// (a) once against Apache's answer, (b) three times in a row against one
// interpreter (-w 1), after every earlier case ran in it, and (c) all cases
// at once from several clients. COMPAT-STATUS.md at the repository root
// maps every P0/P1 case to the test that covers it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime/multipart"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// conformanceCase is one request of the suite, tied to its COMPAT case.
type conformanceCase struct {
	diffRequest
	compat int
	// mode names the warmcgi mode that meets the case when the embedded
	// default cannot: "cgi" is the script run as plain CGI (--cgi GLOB).
	// Such a case is compared against a server started with --cgi; what
	// the embedded mode answers is logged, not asserted.
	mode string
	// serial cases contend with themselves for a resource (a lock file, a
	// database), as they would under Apache: in the concurrent phase only
	// one client sends them, while the others send everything else.
	serial bool
	// logs must all appear in both servers' error logs.
	logs []string
	// quiet must appear in neither server's error log (after every phase
	// ran): what the case must not make the server report.
	quiet []string
	// open says why the embedded mode does not meet the case yet (a bug
	// to fix, named in COMPAT-STATUS.md): the difference in the body is
	// logged as a known difference, and reported if it goes away.
	open string
	// versioned marks a case whose answer depends on the Python version
	// (cgitb's page, messages of removed modules, recursion in C): it is
	// compared with Apache only when warmcgi embeds the Python version
	// Apache's scripts run with (/usr/bin/python3).
	versioned bool
	// crashes marks a case that takes the whole server down in the
	// embedded mode: it is never sent there.
	crashes bool
	// streams marks a case whose first line must reach the client while
	// the script still runs, from Apache and from warmcgi (checkStreams).
	streams bool
	// want, when set, is the exact body warmcgi must answer with, and
	// Apache's answer is only logged: the contract is stricter than what
	// Apache does.
	want string
	// apacheWhenExact: in a mode that is CGI itself (fork), the answer
	// must be Apache's rather than want (29: fork's stdio is CPython's,
	// so the known difference of the other modes is met there).
	apacheWhenExact bool
}

// The open cases are known differences of the embedded mode.
func init() {
	for _, c := range conformanceCases() {
		if c.open != "" {
			knownDifferences[c.name] = knownDifference{fields: []string{"body"}, compat: c.compat, why: c.open}
		}
	}
}

// cc returns a GET of target that Apache answers with 200.
func cc(compat int, name, target string) conformanceCase {
	return conformanceCase{compat: compat,
		diffRequest: diffRequest{name: name, method: "GET", target: target, apacheStatus: 200}}
}

func (c conformanceCase) post(contentType string, body []byte) conformanceCase {
	c.method = "POST"
	c.header = append(c.header, [2]string{"Content-Type", contentType})
	c.body = body
	return c
}

// sentChunked sends the body with Transfer-Encoding: chunked.
func (c conformanceCase) sentChunked() conformanceCase {
	c.diffRequest.chunked = true
	return c
}

func (c conformanceCase) with(name, value string) conformanceCase {
	c.header = append(c.header, [2]string{name, value})
	return c
}

// fails marks a request Apache answers with a server-written error page.
func (c conformanceCase) fails(status int) conformanceCase {
	c.apacheStatus = status
	c.serverBody = true
	return c
}

func (c conformanceCase) inMode(mode string) conformanceCase {
	c.mode = mode
	return c
}

func (c conformanceCase) crashing() conformanceCase {
	c.crashes = true
	return c
}

func (c conformanceCase) streaming() conformanceCase {
	c.streams = true
	return c
}

func (c conformanceCase) pythonVersion() conformanceCase {
	c.versioned = true
	return c
}

func (c conformanceCase) serialOnly() conformanceCase {
	c.serial = true
	return c
}

func (c conformanceCase) openBug(why string) conformanceCase {
	c.open = why
	return c
}

func (c conformanceCase) exactly(body string) conformanceCase {
	c.want = body
	return c
}

func (c conformanceCase) asApacheWhenExact() conformanceCase {
	c.apacheWhenExact = true
	return c
}

func (c conformanceCase) logged(markers ...string) conformanceCase {
	c.logs = append(c.logs, markers...)
	return c
}

func (c conformanceCase) unlogged(markers ...string) conformanceCase {
	c.quiet = append(c.quiet, markers...)
	return c
}

func conformanceCases() []conformanceCase {
	const bin = "application/octet-stream"
	const p = "/cgi-bin/compat/"
	return []conformanceCase{
		cc(1, "001-main-globals", p+"001-main-globals.py"),
		cc(3, "003-executable", p+"003-executable.py"),
		cc(5, "005-isolated-flag", p+"005-isolated-flag.py"),
		cc(6, "006-same-name-a", "/cgi-bin/a/show.py"),
		cc(6, "006-same-name-b", "/cgi-bin/b/show.py"),
		cc(8, "008-shebang-W", p+"008-shebang-W.py"),
		cc(8, "008-shebang-S", p+"008-shebang-S.py"),
		cc(8, "008-shebang-O", p+"008-shebang-O.py"),
		cc(8, "008-shebang-B", p+"008-shebang-B.py"),
		cc(9, "009-bom", p+"009-bom.py").fails(500),
		cc(12, "012-no-extension", p+"012-search?q=1"),
		cc(12, "012-dot-cgi", p+"012-tool.cgi"),
		cc(13, "013-syntax-error", p+"013-syntax-error.py").fails(500).logged("SyntaxError"),
		cc(13, "013-import-error", p+"013-import-error.py").fails(500).
			logged("ModuleNotFoundError: No module named 'compat13_no_such_module'"),
		cc(18, "018-stdin-lines", p+"018-stdin-lines.py").post("text/plain", []byte("alpha\nbeta\r\ngamma")),
		cc(18, "018-stdin-json", p+"018-stdin-lines.py?json").post("application/json", []byte(`{"a": [1, 2], "b": "\u00e9"}`)),
		// A chunked body: no CONTENT_LENGTH, HTTP_TRANSFER_ENCODING=chunked,
		// stdin up to EOF, small (read whole) and large (streamed in the
		// embedded modes), and parsed by the legacy cgi.FieldStorage
		// (versioned: 3.13 has no cgi module).
		cc(19, "019-chunked", p+"019-chunked.py").post(bin, chunkBody(5000)).sentChunked(),
		cc(19, "019-chunked-large", p+"019-chunked.py").post(bin, chunkBody(300_000)).sentChunked(),
		cc(19, "019-chunked-empty", p+"019-chunked.py").post(bin, []byte{}).sentChunked(),
		cc(19, "019-chunked-urlencoded", p+"019-chunked.py?form").
			post("application/x-www-form-urlencoded", []byte("a=1&b=caf%C3%A9+au+lait&a=2")).sentChunked().pythonVersion(),
		cc(19, "019-chunked-multipart", p+"019-chunked.py?form").
			post(chunkMultipart()).sentChunked().pythonVersion(),
		cc(20, "020-stdin-buffer", p+"020-stdin-buffer.py").post(bin, []byte("abcline one\n12345\x00\xff\r\nwxyz tail")),
		cc(21, "021-stdin-text", p+"021-stdin-text.py").post("text/plain", []byte("caf\xc3\xa9 \xff\xfe end\n")),
		cc(23, "023-cgi-globals", p+"023-cgi-globals.py"),
		cc(24, "024-exit-stdin", p+"024-exit-stdin.py").post("text/plain", []byte("xyz")),
		// Apache's answer is broken here (the body comes out before the
		// headers); warmcgi keeps the calls in order.
		cc(28, "028-flush-sleep", p+"028-flush-sleep.py").streaming(),
		cc(29, "029-text-then-buffer", p+"029-text-then-buffer.py").exactly("\x00binary\xff\n").asApacheWhenExact(),
		cc(30, "030-encoding", p+"030-encoding.py"),
		cc(30, "030-line-buffering", p+"030-line-buffering.py"),
		cc(30, "030-writes", p+"030-writes.py").logged("compat30 stderr"),
		cc(31, "031-rewrap-wrapper", p+"031-rewrap.py?wrapper"),
		cc(31, "031-rewrap-codecs", p+"031-rewrap.py?codecs"),
		cc(31, "031-rewrap-reconfigure", p+"031-rewrap.py?reconfigure"),
		cc(31, "031-rewrap-open1", p+"031-rewrap.py?open1"),
		cc(31, "031-rewrap-fdopen", p+"031-rewrap.py?fdopen"),
		cc(31, "031-rewrap-plain", p+"031-rewrap.py?plain"),
		cc(33, "033-rawfd", p+"033-rawfd.py").post(bin, []byte("in")).
			logged("compat33 raw to stderr while redirected", "compat33 raw to fd 2"),
		cc(34, "034-header-8000", p+"034-long-header.py?8000"),
		cc(34, "034-header-9000", p+"034-long-header.py?9000").fails(500),
		cc(40, "040-cgitb", p+"040-cgitb.py").pythonVersion(),
		cc(41, "041-stderr", p+"041-stderr.py").logged("compat41 first line to the log", "compat41 second line"),
		cc(43, "043-late-daemon", p+"043-late-daemon.py"),
		cc(44, "044-exit-message", p+"044-exit-message.py").logged("compat44 exit message"),
		cc(45, "045-bare-except", p+"045-bare-except.py"),
		cc(46, "046-os-exit", p+"046-os-exit.py"),
		cc(47, "047-abort", p+"047-abort.py"),
		cc(47, "047-kill-self", p+"047-kill-self.py"),
		// A segfault in the embedded mode kills the server with every
		// request in it.
		cc(47, "047-segfault", p+"047-segfault.py").inMode("cgi").crashing(),
		// The crash after the response began: it ends complete, as its
		// output ends (Apache sends the last chunk).
		cc(47, "047-segfault-late", p+"047-segfault-late.py").inMode("cgi").crashing(),
		cc(48, "048-execv", p+"048-execv.py?q=1"),
		cc(49, "049-fork", p+"049-fork.py").inMode("cgi"),
		cc(52, "052-recursion", p+"052-recursion.py").pythonVersion(),
		cc(55, "055-environ-write", p+"055-environ-write.py"),
		// os.putenv reaches the request's children, not os.environ.
		cc(55, "055-putenv", p+"055-putenv.py"),
		cc(56, "056-environ-views", p+"056-environ-views.py?x=1"),
		cc(57, "057-c-getenv", p+"057-c-getenv.py").inMode("cgi"),
		cc(58, "058-process-state", p+"058-process-state.py"),
		cc(58, "058-locale-ctype", p+"058-locale-ctype.py"),
		// Without a trusted proxy, forwarding headers are just HTTP_*.
		cc(61, "061-forwarded-ignored", "/cgi-bin/env.py").
			with("X-Forwarded-For", "203.0.113.7").with("X-Forwarded-Proto", "https").
			with("X-Forwarded-Host", "evil.example").with("Forwarded", "for=203.0.113.8;proto=https"),
		cc(62, "062-getproxies", p+"062-getproxies.py").with("Proxy", "http://proxy.invalid:3128"),
		cc(63, "063-counter", "/cgi-bin/counter.py"),
		cc(64, "064-mutable-default", p+"064-mutable-default.py"),
		cc(65, "065-logging", p+"065-logging.py"),
		// The logging tree as a whole (handlers, formatters, propagate,
		// filters, disabled loggers) is the request's.
		cc(65, "065-logging-tree", p+"065-logging-tree.py"),
		cc(66, "066-knobs", p+"066-knobs.py"),
		// Names rebound, added or deleted in loaded modules (the standard
		// library's, an installed package's, builtins) are put back.
		cc(66, "066-module-state", p+"066-module-state.py"),
		// A replaced standard-library function and mimetypes.add_type (its
		// tables are made again: the names the request bound in mimetypes
		// are put back) are the request's.
		cc(66, "066-knobs-open", p+"066-knobs-open.py"),
		// A kept module's import warns again in every request that
		// imports it, through the request's filters (TestImportWarnings
		// counts the logged ones).
		cc(66, "066-import-warnings", p+"066-import-warnings.py").logged("module 'sre_parse' is deprecated"),
		cc(66, "066-import-warnings-nested", p+"066-import-warnings-nested.py").pythonVersion(),
		cc(66, "066-import-warnings-nested-first", p+"066-import-warnings-nested.py?asyncore").pythonVersion(),
		// Also on an interpreter no script imported random in before:
		// the subtest 067-random-first-import.
		cc(67, "067-random", p+"067-random.py"),
		// A file dropped without close() is flushed and closed at once
		// (the runtime tracks files without keeping them alive), and a
		// script's own sys.stderr file is closed without an error logged.
		cc(68, "068-write-rename", p+"068-write-rename.py"),
		cc(68, "068-stderr-file", p+"068-stderr-file.py").
			unlogged("Exception ignored while flushing", "warmcgi-compat68-stderr"),
		cc(69, "069-flock", p+"069-flock.py").serialOnly(),
		cc(70, "070-sqlite", p+"070-sqlite.py").serialOnly(),
		cc(73, "073-thread", p+"073-thread.py"),
		cc(74, "074-atexit", p+"074-atexit.py").logged("compat74 atexit error"),
		cc(76, "076-alarm", p+"076-alarm.py").pythonVersion(),
		cc(78, "078-chdir", p+"078-chdir.py"),
		cc(79, "079-setrlimit", p+"079-setrlimit.py").inMode("cgi"),
		cc(85, "085-children", p+"085-children.py?q=1").post(bin, []byte("01234rest of the body")),
		cc(86, "086-child-env", p+"086-child-env.py?q=1"),
		cc(88, "088-child-cwd", p+"088-child-cwd.py"),
		// Apache's own children inherit two stray fds of Apache (10 and
		// 251 here); warmcgi's must get none of the server's.
		cc(89, "089-child-fds", p+"089-child-fds.py").exactly("system: 0 1 2 3\nsubprocess: 0 1 2 3\n"),
		// In the embedded mode os.system waits for its background child's
		// output and a Popen child still writing 1 s after the script is
		// cut off; a plain-CGI process is waited for, as by Apache.
		cc(90, "090-background-child", p+"090-background-child.py").inMode("cgi"),
		cc(93, "093-cgi-escape", p+"093-cgi-escape.py").fails(500).logged("has no attribute 'escape'"),
		cc(94, "094-removed", p+"094-removed.py").pythonVersion(),
	}
}

// chunkBody is n bytes of binary data with CRLFs and NULs, for COMPAT 19.
func chunkBody(n int) []byte {
	return bytes.Repeat([]byte("0123456789\r\n\x00\xff"), n/14+1)[:n]
}

// chunkMultipart is a form with a field and a file past the 64 KiB
// streaming threshold, for COMPAT 19.
func chunkMultipart() (contentType string, body []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.SetBoundary("----warmcgiCompat19")
	_ = w.WriteField("name", "Ann Example")
	fw, _ := w.CreateFormFile("upload", "big.bin")
	_, _ = fw.Write(chunkBody(100_000))
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

func TestConformance(t *testing.T) { conformance(t) }

// The suite again with every embedded-Python script in the main
// interpreter, and in worker processes (which run their main interpreter).
func TestConformanceMain(t *testing.T)    { conformance(t, "--isolation", "main") }
func TestConformanceProcess(t *testing.T) { conformance(t, "--isolation", "process") }

// Fork mode is CGI without exec: every case, those the embedded modes
// send to plain CGI (inMode) or never send (crashing) included, is
// compared with Apache in it, with no exceptions.
func TestConformanceFork(t *testing.T) { conformance(t, "--isolation", "fork") }

// conformance runs the suite with warmcgi started with mode's flags.
func conformance(t *testing.T, mode ...string) {
	if testing.Short() {
		t.Skip("starts Apache and warmcgi; skipped with -short")
	}
	dir := sharedCGIBin(t)
	// exact: the mode meets every case itself (fork).
	exact := slices.Contains(mode, "fork")
	apacheURL, apacheLog := startApache(t, dir)
	// One interpreter: every request of the sequential phase runs in it,
	// after everything the earlier cases left behind.
	oneURL, oneLog := startWarmcgi(t, dir, append([]string{"-w", "1"}, mode...)...)
	// Several interpreters for the concurrent phase.
	manyURL, manyLog := startWarmcgi(t, dir, append([]string{"-w", "3"}, mode...)...)
	// The plain-CGI mode, for the cases the embedded mode cannot meet.
	cgiURL, cgiLog := startWarmcgi(t, dir, "-w", "1", "--cgi", "compat/*")
	as := newDiffServer(t, "apache", apacheURL)
	one := newDiffServer(t, "warmcgi", oneURL)
	many := newDiffServer(t, "warmcgi", manyURL)
	plain := newDiffServer(t, "warmcgi", cgiURL)

	// Apache runs the scripts with Debian's python3; warmcgi built with
	// another Python answers the version-dependent cases differently.
	var cases []conformanceCase
	sys, linked := debianPythonVersion(t), pythonMajorMinor()
	for _, c := range conformanceCases() {
		if c.versioned && sys != linked {
			t.Logf("%s: not compared: its answer depends on the Python version (Apache's scripts run %s, warmcgi embeds %s)", c.name, sys, linked)
			continue
		}
		cases = append(cases, c)
	}
	want := make(map[string]*rawResponse, len(cases))
	for _, c := range cases {
		resp, err := doRaw(apacheURL, c.diffRequest)
		if err != nil {
			t.Errorf("apache, %s: %v", c.name, err)
			continue
		}
		if c.want == "" && resp.code != c.apacheStatus {
			t.Errorf("apache, %s: status %q, the table expects %d\nbody: %q",
				c.name, resp.statusLine, c.apacheStatus, clip(resp.body, 500))
		}
		want[c.name] = resp
	}
	if t.Failed() {
		t.Fatalf("the reference server does not answer as the table assumes; error log:\n%s", apacheLog())
	}

	// (a) and (b): each case three times in a row, in table order, all in
	// one interpreter.
	t.Run("sequential", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ws := one
				if c.mode == "cgi" && !exact {
					ws = plain
				}
				for run := 1; run <= 3; run++ {
					got, err := doRaw(ws.baseURL, c.diffRequest)
					if err != nil {
						t.Fatalf("warmcgi, run %d: %v", run, err)
					}
					reportMismatches(t, fmt.Sprintf("COMPAT %d, run %d", c.compat, run), c.diffRequest, checkCaseIn(exact, c, as, want[c.name], ws, got))
				}
				if c.streams {
					checkStreams(t, c.target, apacheURL, ws.baseURL)
				}
				if c.mode != "" && !exact {
					logEmbedded(t, c, as, want[c.name], one)
				}
				if c.want != "" {
					t.Logf("apache (reference only, not asserted): %q %q", want[c.name].statusLine, want[c.name].body)
				}
			})
		}
	})

	// 067 again, on an interpreter in which no script has imported random
	// yet.
	t.Run("067-random-first-import", func(t *testing.T) {
		freshURL, _ := startWarmcgi(t, dir, append([]string{"-w", "1"}, mode...)...)
		fresh := newDiffServer(t, "warmcgi", freshURL)
		r := cc(67, "067-random", "/cgi-bin/compat/067-random.py").diffRequest
		for run := 1; run <= 2; run++ {
			got, err := doRaw(freshURL, r)
			if err != nil {
				t.Fatalf("warmcgi, run %d: %v", run, err)
			}
			compareResponses(t, fmt.Sprintf("COMPAT 67 on a fresh interpreter, run %d", run), r, as, want[r.name], fresh, got)
		}
	})

	// (c): every case from several clients at once, each client walking
	// the table from a different start, twice.
	t.Run("concurrent", func(t *testing.T) {
		const clients, rounds = 4, 2
		var wg sync.WaitGroup
		for cl := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := range rounds {
					for k := range cases {
						c := cases[(k+cl*len(cases)/clients)%len(cases)]
						if c.serial && cl != 0 {
							continue
						}
						ws := many
						if c.mode == "cgi" && !exact {
							ws = plain
						}
						label := fmt.Sprintf("%s (COMPAT %d), client %d, round %d", c.name, c.compat, cl, round)
						got, err := doRaw(ws.baseURL, c.diffRequest)
						if err != nil {
							t.Errorf("%s: %v", label, err)
							continue
						}
						reportMismatches(t, label, c.diffRequest, checkCaseIn(exact, c, as, want[c.name], ws, got))
					}
				}
			}()
		}
		wg.Wait()
	})

	t.Run("logs", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, c := range cases {
			warmLog := oneLog
			if c.mode == "cgi" && !exact {
				warmLog = cgiLog
			}
			for _, q := range c.quiet {
				for name, l := range map[string]func() string{"apache": apacheLog, "warmcgi (-w 1)": warmLog, "warmcgi (-w 3)": manyLog} {
					if line := lineWith(l(), q); line != "" {
						t.Errorf("%s: %s's log has %q:\n%s", c.name, name, q, line)
					}
				}
			}
			if len(c.logs) == 0 {
				continue
			}
			if missing := waitForLog(ctx, apacheLog, c.logs...); len(missing) > 0 {
				t.Errorf("%s: apache's error log lacks %q", c.name, missing)
			}
			if missing := waitForLog(ctx, warmLog, c.logs...); len(missing) > 0 {
				t.Errorf("%s: warmcgi's log lacks %q", c.name, missing)
			}
		}
	})
}

// lineWith returns the first line of log that contains s, or "".
func lineWith(log, s string) string {
	for line := range strings.Lines(log) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// checkCase lists how warmcgi's answer w to c falls short: the
// differences from Apache's answer a, or from c.want.
func checkCase(c conformanceCase, as diffServer, a *rawResponse, ws diffServer, w *rawResponse) []mismatch {
	if c.want == "" {
		return diffResponses(c.diffRequest, as, a, ws, w)
	}
	var out []mismatch
	if w.code != 200 || string(w.body) != c.want {
		out = append(out, mismatch{"body", fmt.Sprintf("warmcgi: %q %q\nwant:    200 %q\n(apache: %q %q)",
			w.statusLine, w.body, c.want, a.statusLine, a.body)})
	}
	return out
}

// checkCaseIn is checkCase, except that a mode that is CGI itself (exact:
// fork) may also answer as Apache does where the contract is stricter
// than Apache (029: a real pipe puts the .buffer write before the text
// layer's, as under mod_cgi; 089 holds it to the stricter answer, which a
// fork gives, while Apache leaks fds of its own).
func checkCaseIn(exact bool, c conformanceCase, as diffServer, a *rawResponse, ws diffServer, w *rawResponse) []mismatch {
	if exact && c.apacheWhenExact {
		return diffResponses(c.diffRequest, as, a, ws, w)
	}
	ms := checkCase(c, as, a, ws, w)
	if exact && c.want != "" && len(ms) > 0 {
		if asApache := diffResponses(c.diffRequest, as, a, ws, w); len(asApache) == 0 {
			return nil
		}
	}
	return ms
}

// logEmbedded sends c to the embedded server and logs how its answer
// differs from Apache's: the record of why c needs another mode.
func logEmbedded(t *testing.T, c conformanceCase, as diffServer, want *rawResponse, ws diffServer) {
	t.Helper()
	if c.crashes {
		t.Logf("COMPAT %d needs --%s: not sent to the embedded mode, where it takes the server down", c.compat, c.mode)
		return
	}
	got, err := doRaw(ws.baseURL, c.diffRequest)
	if err != nil {
		t.Logf("COMPAT %d in the embedded mode: %v", c.compat, err)
		return
	}
	ms := diffResponses(c.diffRequest, as, want, ws, got)
	if len(ms) == 0 {
		t.Logf("COMPAT %d: the embedded mode now answers as Apache does too; update COMPAT-STATUS.md", c.compat)
	}
	for _, m := range ms {
		t.Logf("COMPAT %d needs --%s: the embedded mode differs in %s:\n%s", c.compat, c.mode, m.field, m.msg)
	}
}

// TestConformanceReload covers COMPAT 14 and 15: an edited script, and an
// edited helper module it imports, take effect on the next request, as
// under CGI, where every request reads the files anew. The edits keep the
// size and the second of the modification time (only the nanoseconds
// change), the case a cache keyed on whole seconds and size gets wrong.
func TestConformanceReload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache and warmcgi; skipped with -short")
	}
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "cgi-bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	write := func(name, text string, mode os.FileMode, nsec int) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		mtime := base.Add(time.Duration(nsec))
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	script := func(v int) string {
		return fmt.Sprintf("#!/usr/bin/python3\nimport reloadhelper\n\nprint(\"Content-Type: text/plain\")\n"+
			"print()\nprint(\"script %d, helper\", reloadhelper.VERSION)\n", v)
	}
	helper := func(v int) string { return fmt.Sprintf("VERSION = %d\n", v) }
	write("reload.py", script(1), 0o755, 100)
	write("reloadhelper.py", helper(1), 0o644, 100)
	apacheURL, _ := startApache(t, dir)
	// Not fork yet: its child imports the helper through CPython's .pyc
	// check (whole-second mtime and size), so the same-second, same-size
	// helper edit below still answers the old helper there (COMPAT 15).
	for _, mode := range []string{"default", "subinterp", "process"} {
		t.Run(mode, func(t *testing.T) { reloadSteps(t, dir, apacheURL, mode, write, script, helper) })
	}
}

// reloadSteps edits, replaces, chmods and removes the reload script under
// Apache and a warmcgi in the given isolation mode, comparing each next
// answer.
func reloadSteps(t *testing.T, dir, apacheURL, mode string, write func(string, string, os.FileMode, int),
	script func(int) string, helper func(int) string) {
	write("reload.py", script(1), 0o755, 100)
	write("reloadhelper.py", helper(1), 0o644, 100)
	// Apache looks at the file on every request; warmcgi, in its default
	// configuration, remembers what the URL resolved to and still sees
	// each change at the next request (inotify and one stat; the fallback
	// is in TestStatInterval).
	args := []string{"-w", "1"}
	if mode != "default" {
		args = append(args, "--isolation", mode)
	}
	warmURL, _ := startWarmcgi(t, dir, args...)
	as := newDiffServer(t, "apache", apacheURL)
	ws := newDiffServer(t, "warmcgi", warmURL)
	r := cc(14, "reload", "/cgi-bin/reload.py").diffRequest

	check := func(step, body string) {
		t.Helper()
		a, err := doRaw(apacheURL, r)
		if err != nil {
			t.Fatal(err)
		}
		if a.code != 200 || string(a.body) != body {
			t.Fatalf("%s: apache answered %q %q, the test expects %q", step, a.statusLine, a.body, body)
		}
		for run := 1; run <= 3; run++ {
			w, err := doRaw(warmURL, r)
			if err != nil {
				t.Fatal(err)
			}
			compareResponses(t, fmt.Sprintf("%s, run %d", step, run), r, as, a, ws, w)
		}
	}
	check("first version", "script 1, helper 1\n")
	write("reloadhelper.py", helper(22), 0o644, 200)
	check("helper edited (COMPAT 15)", "script 1, helper 22\n")
	write("reload.py", script(2), 0o755, 200)
	check("script edited, same size and second (COMPAT 14)", "script 2, helper 22\n")
	// An atomic deploy: a new file renamed over the old one.
	tmp := filepath.Join(dir, ".reload.py.new")
	if err := os.WriteFile(tmp, []byte(script(3)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "reload.py")); err != nil {
		t.Fatal(err)
	}
	check("script replaced by rename (COMPAT 14)", "script 3, helper 22\n")
	// A helper edit that keeps its size within the same second: CPython's
	// bytecode files would miss it (whole-second mtime and size); helpers'
	// code is cached by nanosecond mtime, size and inode instead.
	write("reloadhelper.py", helper(33), 0o644, 300)
	check("helper edited, same size and second (COMPAT 15)", "script 3, helper 33\n")
	// chmod -x and removal: Apache's next request is a 500 and a 404.
	status := func(step string, want int) {
		t.Helper()
		a, err := doRaw(apacheURL, r)
		if err != nil {
			t.Fatal(err)
		}
		w, err := doRaw(warmURL, r)
		if err != nil {
			t.Fatal(err)
		}
		if a.code != want || w.code != want {
			t.Errorf("%s: apache %q, warmcgi %q; want %d from both", step, a.statusLine, w.statusLine, want)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "reload.py"), 0o644); err != nil {
		t.Fatal(err)
	}
	status("script made not executable (issue 15 item 5)", 500)
	if err := os.Chmod(filepath.Join(dir, "reload.py"), 0o755); err != nil {
		t.Fatal(err)
	}
	check("executable again", "script 3, helper 33\n")
	if err := os.Remove(filepath.Join(dir, "reload.py")); err != nil {
		t.Fatal(err)
	}
	status("script removed (issue 15 item 5)", 404)
}

// TestConformanceSwallowedTimeout covers the part of COMPAT 45 and 50 the
// embedded mode cannot meet: a script that swallows every exception
// outlives the exception injected at --timeout (the README says so). As
// plain CGI (--cgi) it is killed with its process group, as Apache kills
// a CGI process at CGIScriptTimeout. (Apache itself is not asked: its
// timeout is 20 s in startApache.)
func TestConformanceSwallowedTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts warmcgi; skipped with -short")
	}
	const script = "045-swallow-timeout.py"
	dir := sharedCGIBin(t)
	base, _ := startWarmcgi(t, dir, "-w", "1", "--timeout", "1s", "--cgi", "compat/"+script)
	r := cc(45, "045-swallow-timeout", "/cgi-bin/compat/"+script).diffRequest
	got, err := doRaw(base, r)
	if err != nil {
		t.Fatal(err)
	}
	if got.code != 504 {
		t.Errorf("status %q, want 504", got.statusLine)
	}
	// The process must be gone, not merely abandoned.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := processesRunning(t, filepath.Join(dir, "compat", script))
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still runs (pids %v) 10 s after its 504", script, pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, err := doRaw(base, cc(45, "hello", "/cgi-bin/hello.py").diffRequest); err != nil || got.code != 200 {
		t.Errorf("hello.py after the timeout: %v %v", got, err)
	}
}

// processesRunning returns the pids of processes whose command line
// mentions name (an absolute path: the server's own command line has
// the relative one) and whose root directory is this test's: CI runs the
// suite in two chroots at once, where the same path names each root's
// own copy of the script.
func processesRunning(t *testing.T, name string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	self, err := os.Readlink("/proc/self/root")
	if err != nil {
		t.Skipf("no /proc/self/root: %v", err)
	}
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(name)) {
			continue
		}
		// A process that ended meanwhile has no root to read; one whose
		// root cannot be read for another reason counts as this root's.
		root, err := os.Readlink(filepath.Join("/proc", e.Name(), "root"))
		if errors.Is(err, fs.ErrNotExist) || (err == nil && root != self) {
			continue
		}
		pids = append(pids, e.Name())
	}
	return pids
}
