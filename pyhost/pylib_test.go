//go:build cgo

package pyhost

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// pythonHasCGI reports whether py is a runnable interpreter whose own
// standard library still has cgi and cgitb (removed in 3.13, PEP 594).
// -I keeps pylib/ (and the environment) out of the picture.
func pythonHasCGI(py string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, py, "-I", "-W", "ignore", "-c", "import cgi, cgitb").Run() == nil
}

// pythonStdlib is the directory of py's standard library.
func pythonStdlib(py string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-I", "-c",
		"import sysconfig; print(sysconfig.get_paths()['stdlib'])").Output()
	return strings.TrimSpace(string(out)), err
}

// referencePythons: Debian's python3.11 (there whenever python3-dev is)
// and pyenv's 3.12, if present, each still shipping cgi and cgitb.
func referencePythons() (found []string, skipped []string) {
	candidates := []string{"/usr/bin/python3.11"}
	if home, err := os.UserHomeDir(); err == nil {
		m, _ := filepath.Glob(filepath.Join(home, ".pyenv/versions/3.12*/bin/python3.12"))
		sort.Strings(m)
		candidates = append(candidates, m...)
	}
	for _, py := range candidates {
		if _, err := os.Stat(py); err != nil {
			skipped = append(skipped, py+": "+err.Error())
		} else if !pythonHasCGI(py) {
			skipped = append(skipped, py+": no stdlib cgi/cgitb")
		} else {
			found = append(found, py)
		}
	}
	return found, skipped
}

// newerPythons: pyenv's 3.13 and later, which have no cgi of their own:
// where warmcgi's modules are actually used.
func newerPythons() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, pat := range []string{".pyenv/versions/3.1[3-9]*/bin/python3.1[3-9]", ".pyenv/versions/3.[2-9]*/bin/python3.[2-9]*"} {
		m, _ := filepath.Glob(filepath.Join(home, pat))
		for _, py := range m {
			if !strings.HasSuffix(py, "-config") && !strings.HasSuffix(py, "-gdb.py") {
				out = append(out, py)
			}
		}
	}
	sort.Strings(out)
	return out
}

var difftestSummary = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

func runDifftest(t *testing.T, py string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{"-I", "-B", "testdata/difftest.py"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	m := difftestSummary.FindSubmatch(stdout.Bytes())
	if err != nil || m == nil || string(m[2]) != "0" {
		t.Fatalf("%s testdata/difftest.py %s: %v\nstdout:\n%s\nstderr:\n%s",
			py, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if string(m[1]) == "0" {
		t.Fatalf("%s: no case ran:\n%s", py, stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) >= 2 {
		t.Log(lines[len(lines)-2])
	}
}

// TestCGICompatAgainstStdlib: pylib/cgi.py and pylib/cgitb.py give the
// same results as the stdlib modules of every interpreter here that still
// has them, on the request corpus of testdata/difftest.py; and on 3.13+ they
// match those stdlib sources run by the newer interpreter.
func TestCGICompatAgainstStdlib(t *testing.T) {
	refs, skipped := referencePythons()
	for _, s := range skipped {
		t.Logf("not a reference: %s", s)
	}
	if len(refs) == 0 {
		t.Skip("no Python with a stdlib cgi module found (wanted /usr/bin/python3.11 " +
			"from python3-dev, or $HOME/.pyenv/versions/3.12*/bin/python3.12)")
	}
	for _, py := range refs {
		py := py
		t.Run(filepath.Base(py)+"@"+filepath.Dir(py), func(t *testing.T) {
			runDifftest(t, py)
		})
	}
	// The stdlib sources of the newest reference, under the newer Pythons.
	stdlib, err := pythonStdlib(refs[len(refs)-1])
	if err != nil {
		t.Fatalf("stdlib of %s: %v", refs[len(refs)-1], err)
	}
	for _, py := range newerPythons() {
		if pythonHasCGI(py) {
			continue
		}
		py := py
		t.Run(filepath.Base(py)+"@"+filepath.Dir(py)+"/reference="+stdlib, func(t *testing.T) {
			runDifftest(t, py, "--reference-dir", stdlib)
		})
	}
}

// cgiScripts are run by TestCGIModuleInInterp from a temporary directory.
var cgiScripts = map[string]string{
	"form.py": `import cgi, cgitb, os, sys
form = cgi.FieldStorage()
print("Content-Type: text/plain")
print()
print("keys", sorted(form.keys()))
for name in sorted(form.keys()):
    field = form[name]
    if isinstance(field, list):
        print(name, "list", form.getlist(name))
    elif field.filename is not None:
        data = field.value
        print(name, "file", repr(field.filename), field.type, type(field.file).__name__,
              len(data), data[:6], data[-6:])
    else:
        print(name, "value", repr(field.value))
print("first", form.getfirst("a", "-"), "escape", hasattr(cgi, "escape"))
print("argv", sys.argv[1:], "maxlen", cgi.maxlen)
`,
	"where.py": `import cgi, cgitb, sys
print("Content-Type: text/plain")
print()
print(sys.version.split()[0], getattr(cgi, "__file__", None), getattr(cgitb, "__file__", None))
`,
	"reset.py": `import cgitb, sys
sys.stdout.write("Content-Type: text/plain\n\n" + cgitb.reset())
`,
	"tb.py": `import cgitb, os, sys
query = os.environ["QUERY_STRING"]
if query.startswith("text"):
    cgitb.enable(format="text")
elif query.startswith("handler"):
    pass
else:
    cgitb.enable()
print("Content-Type: text/html")
print()

def boom(n):
    secret_local = n * 7
    raise ValueError("boom <%d> %d" % (n, secret_local))

n = int(query.rsplit("-", 1)[-1])
if query.startswith("handler"):
    try:
        boom(n)
    except ValueError:
        cgitb.handler()
    print("after handler")
else:
    boom(n)
`,
}

func writeScripts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range cgiScripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func multipartBody(boundary string, upload []byte) []byte {
	var b bytes.Buffer
	field := func(name, value string) {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, name, value)
	}
	field("a", "first")
	field("tag", "x")
	field("tag", "y")
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"up\"; filename=\"photo.bin\"\r\n"+
		"Content-Type: application/octet-stream\r\n\r\n", boundary)
	b.Write(upload)
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes()
}

// TestCGIModuleInInterp: `import cgi, cgitb` and cgi.FieldStorage() work
// in scripts run by pyhost.Interp on the Python it is linked against:
// the stdlib modules where they exist, warmcgi's pylib/ where they do not
// (3.13+). Every request runs three times in one interpreter, because a
// persistent interpreter's bugs show on the second request (COMPAT 22, 23,
// 26, 92): os.environ and sys.stdin.buffer must be the current request's
// even though cgi bound them at its first import.
func TestCGIModuleInInterp(t *testing.T) {
	where := runCGIRequests(t, writeScripts(t), false)
	t.Logf("python, cgi, cgitb: %s", where)
}

// TestPylibModulesInInterp: the same requests with warmcgi's own
// pylib/cgi.py and pylib/cgitb.py beside the scripts (sys.path[0] comes
// before the stdlib), so they run in the real runtime whatever Python
// pyhost is linked against.
func TestPylibModulesInInterp(t *testing.T) {
	dir := writeScripts(t)
	for _, name := range []string{"cgi.py", "cgitb.py"} {
		data, err := os.ReadFile(filepath.Join("pylib", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	where := runCGIRequests(t, dir, true)
	if want := filepath.Join(dir, "cgi.py"); !strings.Contains(where, " "+want+" ") {
		t.Errorf("cgi came from elsewhere: %s (want %s)", where, want)
	}
	checkParseOfStdin(t, dir)
}

// runCGIRequests runs the requests below, three rounds in one interpreter,
// with the scripts in dir; it returns what where.py printed. ours: the
// modules are pylib's, which must not warn about their removal.
func runCGIRequests(t *testing.T, dir string, ours bool) string {
	t.Helper()
	upload := bytes.Repeat([]byte("\x00\r\n--not-the-boundary\xff"), 150) // 3300 bytes: spooled to a file
	const boundary = "warmcgiBoundary42"
	mp := multipartBody(boundary, upload)
	urlenc := "a=posted&b=%C3%A9t%C3%A9&b=2"
	// What cgitb's HTML pages start with is the module's own: the stdlib's
	// and pylib's "<!--: spam" comment trick, legacy-cgi 2.6.4's <style>.
	reset := cgitbReset(t, dir)

	type request struct {
		name, script string
		env          []string
		args         []string
		body         []byte
		stdout       []string // substrings, in order
		absent       []string
		exit         int
	}
	reqs := []request{
		{name: "GET query", script: "form.py",
			env:    []string{"REQUEST_METHOD=GET", "QUERY_STRING=a=1&a=2&b=x&blank="},
			stdout: []string{"keys ['a', 'b']\n", "a list ['1', '2']\n", "b value 'x'\n", "first 1 escape False\n", "argv [] maxlen 0\n"}},
		{name: "GET another query (same os.environ object)", script: "form.py",
			env:    []string{"REQUEST_METHOD=GET", "QUERY_STRING=b=second"},
			stdout: []string{"keys ['b']\n", "b value 'second'\n", "first - escape False\n"}},
		{name: "ISINDEX argv fallback", script: "form.py",
			env: []string{"REQUEST_METHOD=GET"}, args: []string{"a=fromargv"},
			stdout: []string{"keys ['a']\n", "a value 'fromargv'\n", "argv ['a=fromargv']"}},
		{name: "POST urlencoded + query string", script: "form.py",
			env: []string{"REQUEST_METHOD=POST", "CONTENT_TYPE=application/x-www-form-urlencoded",
				fmt.Sprintf("CONTENT_LENGTH=%d", len(urlenc)), "QUERY_STRING=q=fromquery"},
			body:   []byte(urlenc),
			stdout: []string{"keys ['a', 'b', 'q']\n", "a value 'posted'\n", "b list ['\u00e9t\u00e9', '2']\n", "q value 'fromquery'\n"}},
		{name: "POST multipart with upload", script: "form.py",
			env: []string{"REQUEST_METHOD=POST", "CONTENT_TYPE=multipart/form-data; boundary=" + boundary,
				fmt.Sprintf("CONTENT_LENGTH=%d", len(mp)), "QUERY_STRING="},
			body: mp,
			stdout: []string{"keys ['a', 'tag', 'up']\n", "a value 'first'\n", "tag list ['x', 'y']\n",
				"up file 'photo.bin' application/octet-stream BufferedRandom 3300 b'\\x00\\r\\n--n' b'ndary\\xff'\n"}},
		{name: "cgitb html", script: "tb.py", env: []string{"REQUEST_METHOD=GET", "QUERY_STRING=html-3"},
			stdout: []string{"Content-Type: text/html\n\n", reset, "ValueError",
				"secret_local</strong>&nbsp;=", "21", "boom &lt;3&gt; 21", "<!-- The above is a description of an error",
				"ValueError: boom &lt;3&gt; 21\n\n-->\n"},
			exit: 1},
		{name: "cgitb text", script: "tb.py", env: []string{"REQUEST_METHOD=GET", "QUERY_STRING=text-4"},
			stdout: []string{"Content-Type: text/html\n\nValueError\nPython ", "secret_local = 28", "ValueError: boom <4> 28\n    __cause__ = None",
				"the original traceback:\n\nTraceback (most recent call last):\n"},
			absent: []string{reset, "boom <3>", "boom &lt;3&gt;"}, exit: 1},
		{name: "cgitb.handler bound at first import", script: "tb.py", env: []string{"REQUEST_METHOD=GET", "QUERY_STRING=handler-5"},
			stdout: []string{"Content-Type: text/html\n\n" + reset, "secret_local</strong>&nbsp;=", "35", "boom &lt;5&gt; 35", "-->\n\nafter handler\n"},
			absent: []string{"boom &lt;3&gt;", "boom <4>"}},
	}
	const rounds = 3
	results := make([]Result, rounds*len(reqs))
	errs := make([]error, len(results))
	var where Result
	onThread(t, func(ip *Interp) {
		for i := range results {
			r := reqs[i%len(reqs)]
			path := filepath.Join(dir, r.script)
			req := &Request{Path: path, Stamp: stampOf(t, path), Env: envBlock(r.env...),
				Args: envBlock(r.args...), Body: r.body}
			errs[i] = ip.Exec(req, &results[i])
			// Exec reuses the slices of a Result it is given again.
			results[i].Stdout = append([]byte(nil), results[i].Stdout...)
			results[i].Stderr = append([]byte(nil), results[i].Stderr...)
		}
		path := filepath.Join(dir, "where.py")
		if err := ip.Exec(&Request{Path: path, Stamp: stampOf(t, path)}, &where); err != nil {
			t.Error(err)
		}
	})
	for i, res := range results {
		r := reqs[i%len(reqs)]
		t.Run(fmt.Sprintf("%s/round=%d", r.name, i/len(reqs)), func(t *testing.T) {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			out := string(res.Stdout)
			if res.ExitCode != r.exit {
				t.Errorf("exit code %d, want %d (failure %q)\nstdout:\n%s\nstderr:\n%s",
					res.ExitCode, r.exit, res.Failure, out, res.Stderr)
			}
			rest := out
			for _, want := range r.stdout {
				k := strings.Index(rest, want)
				if k < 0 {
					t.Errorf("stdout lacks %q (in this order)\nstdout:\n%s\nstderr:\n%s", want, out, res.Stderr)
					break
				}
				rest = rest[k+len(want):]
			}
			for _, bad := range r.absent {
				if strings.Contains(out, bad) {
					t.Errorf("stdout has %q from another request:\n%s", bad, out)
				}
			}
			// 3.11/3.12 warn at import that cgi is going; ours does not.
			if ours && len(res.Stderr) > 0 {
				t.Errorf("stderr %q, want none", res.Stderr)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(res.Stderr)), "\n") {
				if line != "" && !strings.Contains(line, "DeprecationWarning") && !strings.HasPrefix(line, "  import ") {
					t.Errorf("unexpected stderr %q", res.Stderr)
					break
				}
			}
		})
	}
	out := string(bytes.TrimSpace(where.Stdout))
	return out[strings.LastIndex(out, "\n")+1:]
}

// cgitbReset returns what cgitb.reset() gives in an interpreter running
// a script of dir (so the cgitb the requests import): the text its HTML
// pages start with, which differs between cgitb's versions.
func cgitbReset(t *testing.T, dir string) string {
	t.Helper()
	res := execOnce(t, filepath.Join(dir, "reset.py"))
	_, reset, ok := strings.Cut(string(res.Stdout), "\n\n")
	if !ok || !strings.Contains(reset, "Content-Type: text/html\n") {
		t.Fatalf("cgitb.reset() gave %q (stderr %q), want text with a Content-Type header", res.Stdout, res.Stderr)
	}
	return reset
}

// TestCGIParseReadsStdinInInterp: cgi.parse() with its default fp reads a
// POST body from sys.stdin. Under CGI that is an io.TextIOWrapper, which
// cgi.parse() swaps for its .buffer; the stdlib cgi of 3.11/3.12 checks
// exactly that type, so warmcgi's sys.stdin must pass the check for it
// (pylib/cgi.py, used on 3.13+, also accepts any text stream with a
// .buffer).
func TestCGIParseReadsStdinInInterp(t *testing.T) {
	checkParseOfStdin(t, t.TempDir())
}

func checkParseOfStdin(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "parse.py")
	body := `import cgi, io, sys
print("Content-Type: text/plain")
print()
print(isinstance(sys.stdin, io.TextIOWrapper), sorted(cgi.parse().items()))
`
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	form := "a=1&b=%C3%A9"
	var res Result
	var err error
	onThread(t, func(ip *Interp) {
		err = ip.Exec(&Request{Path: path, Stamp: stampOf(t, path),
			Env: envBlock("REQUEST_METHOD=POST", "CONTENT_TYPE=application/x-www-form-urlencoded",
				fmt.Sprintf("CONTENT_LENGTH=%d", len(form)), "QUERY_STRING=q=2"),
			Body: []byte(form)}, &res)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "[('a', ['1']), ('b', ['\u00e9']), ('q', ['2'])]\n"
	if !strings.HasSuffix(string(res.Stdout), want) {
		t.Errorf("cgi.parse() of a POST: stdout %q, want it to end %q\n"+
			"(cgi.parse() unwraps sys.stdin to its .buffer only if it is an io.TextIOWrapper, "+
			"as it is under CGI; the stdlib cgi of 3.11/3.12 then reads str and fails)\nstderr:\n%s",
			res.Stdout, want, res.Stderr)
	}
}
