package main

// TestManyApps serves real applications of different kinds from one
// cgi-bin, the shared-host layout of issue 14 that crashed the server
// within seconds: Debian's hgweb.cgi, a script using Debian's Subversion
// bindings, a Django project and a Flask application (testdata/apps, run
// by wsgiref's CGIHandler) and classic cgi.FieldStorage scripts, each
// driven at once by its own client, against one warmcgi in its default
// configuration.

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The clients keep going for manyAppsRun; each does at least
// manyAppsMinRounds rounds.
const (
	manyAppsRun       = 5 * time.Second
	manyAppsMinRounds = 2
)

// appClient drives one application: round runs round i (from 0) of its
// requests and returns what was wrong.
type appClient struct {
	name  string
	round func(i int) error
}

// appSetup prepares one application in the cgi-bin before the server
// starts: the server flags it needs, and its client once the server's
// base URL ("http://127.0.0.1:PORT/cgi-bin/") is known.
type appSetup struct {
	name   string
	flags  []string
	client func(base string) appClient
}

func TestManyApps(t *testing.T) {
	if testing.Short() {
		t.Skip("several applications under load for a few seconds; skipped with -short")
	}
	start := time.Now()
	root, cgiDir := copyApps(t)

	var setups []appSetup
	for _, prepare := range []func(*testing.T, string, string) (appSetup, string){
		prepareHgweb, prepareSvn, prepareDjango, prepareFlask, prepareClassicForm, prepareClassicEnviron,
	} {
		began := time.Now()
		s, unavailable := prepare(t, root, cgiDir)
		if unavailable != "" {
			t.Logf("not served: %s", unavailable)
			continue
		}
		t.Logf("%s prepared in %v", s.name, time.Since(began).Round(time.Millisecond))
		setups = append(setups, s)
	}
	var flags []string
	for _, s := range setups {
		flags = append(flags, s.flags...)
	}
	p := startWarmcgiProcess(t, cgiDir, flags...)
	var clients []appClient
	for _, s := range setups {
		clients = append(clients, s.client(p.url+"cgi-bin/"))
	}
	t.Logf("%d applications set up and the server started in %v", len(clients), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	rounds := runAppClients(t, clients, manyAppsRun)
	t.Logf("rounds answered right in %v: %v", time.Since(start).Round(time.Millisecond), rounds)

	select {
	case <-p.exited:
		t.Fatalf("the server died under the load: %v", p.err)
	default:
	}
	// The server still answers, every application included.
	for _, c := range clients {
		if err := c.round(manyAppsMinRounds + 1000); err != nil {
			t.Errorf("%s after the load: %v", c.name, err)
		}
	}
	logs := p.stderr.String()
	for _, bad := range []string{"panic", "sigsegv", "fatal", "traceback"} {
		if strings.Contains(strings.ToLower(logs), bad) {
			t.Errorf("the server's log has %q (the log follows)", bad)
		}
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "isolation auto") {
			t.Log(line)
		}
	}
}

// runAppClients runs every client in its own goroutine for d (at least
// manyAppsMinRounds rounds each; a client stops at its first wrong answer)
// and returns how many rounds each completed.
func runAppClients(t *testing.T, clients []appClient, d time.Duration) map[string]int {
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	rounds := map[string]int{}
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < manyAppsMinRounds || time.Now().Before(deadline); i++ {
				if err := c.round(i); err != nil {
					t.Errorf("%s, round %d: %v", c.name, i+1, err)
					return
				}
				mu.Lock()
				rounds[c.name] = i + 1
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return rounds
}

// debianPackage says why the scripts here cannot import module from
// Debian's package pkg, or "" when they can: the package must be installed
// and built for the Python this warmcgi embeds. In CI, which installs it,
// a missing package fails the test.
func debianPackage(t *testing.T, pkg, module string) string {
	t.Helper()
	if sys, linked := debianPythonVersion(t), pythonMajorMinor(); sys != linked {
		return fmt.Sprintf("%s: Debian's %s is for Python %s; this warmcgi embeds Python %s", module, pkg, sys, linked)
	}
	out, err := exec.Command("/usr/bin/python3", "-c", "import "+module).CombinedOutput()
	if err == nil {
		return ""
	}
	msg := fmt.Sprintf("%s cannot be imported (%v: %s); on Debian: apt-get install %s", module, err, bytes.TrimSpace(out), pkg)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI installs it)", msg)
	}
	return msg
}

// copyApps copies testdata/apps into a new temporary root, readable by
// every user (t.TempDir's directories are 0700; the scripts may run as
// www-data), and returns the root and its cgi-bin.
func copyApps(t *testing.T) (root, cgiDir string) {
	t.Helper()
	root = t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	apps, err := filepath.Abs(filepath.Join("..", "..", "testdata", "apps"))
	if err != nil {
		t.Fatal(err)
	}
	copyReadable(t, apps, filepath.Join(root, "apps"))
	return root, filepath.Join(root, "apps", "cgi-bin")
}

// copyScript copies testdata/cgi-bin/src into cgiDir as name, readable
// and executable by every user.
func copyScript(t *testing.T, cgiDir, name, src string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataCGIBin(t), filepath.FromSlash(src)))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(cgiDir, name)
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

// appReply is one answer: status, headers and the whole body.
type appReply struct {
	code   int
	header http.Header
	body   string
}

// appRequest sends one request; contentType and body are for a POST.
func appRequest(c *http.Client, method, url, contentType string, body []byte) (appReply, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return appReply{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return appReply{}, fmt.Errorf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return appReply{}, fmt.Errorf("%s %s: reading the body: %v", method, url, err)
	}
	return appReply{resp.StatusCode, resp.Header, string(b)}, nil
}

// expectReply sends one request and compares the status, Content-Type and
// whole body with the ones wanted.
func expectReply(c *http.Client, method, url, contentType string, body []byte, code int, ctype, want string) (appReply, error) {
	r, err := appRequest(c, method, url, contentType, body)
	if err != nil {
		return r, err
	}
	if r.code != code || r.header.Get("Content-Type") != ctype || r.body != want {
		return r, fmt.Errorf("%s %s: got %d %q %q, want %d %q %q", method, url,
			r.code, r.header.Get("Content-Type"), excerpt([]byte(r.body)), code, ctype, want)
	}
	return r, nil
}

// prepareHgweb deploys Debian's hgweb.cgi for a fresh repository (TestHgweb's
// fixture); its client browses, reads a raw file and clones with hg.
func prepareHgweb(t *testing.T, root, cgiDir string) (appSetup, string) {
	hg, script, unavailable := findHgweb(t)
	if unavailable != "" {
		return appSetup{}, "hgweb.cgi: " + unavailable
	}
	f, files, work := newHgwebFixture(t, hg, script, root, cgiDir)
	names := slices.Sorted(maps.Keys(files))
	return appSetup{name: "hgweb", client: func(base string) appClient {
		f.url = base + "hgweb.cgi"
		return appClient{"hgweb", func(i int) error {
			if err := f.expectPage("/", "Add hello and bytes", "Add the fixture readme"); err != nil {
				return err
			}
			// One raw file a round (the clone checks them all).
			name := names[i%len(names)]
			if err := f.expectRaw(name, files[name]); err != nil {
				return err
			}
			return f.expectClone(filepath.Join(work, fmt.Sprintf("clone-%d", i)), files)
		}}
	}}, ""
}

// prepareSvn makes a Subversion repository for testdata/cgi-bin/ext/svnrepo.py
// (Debian's SWIG-generated bindings, the crash).
func prepareSvn(t *testing.T, root, cgiDir string) (appSetup, string) {
	if unavailable := debianPackage(t, "python3-subversion", "svn.repos"); unavailable != "" {
		return appSetup{}, "svnrepo.py: " + unavailable
	}
	repo, err := createSvnRepo(root)
	if err != nil {
		t.Fatal(err)
	}
	copyScript(t, cgiDir, "svnrepo.py", "ext/svnrepo.py")
	return appSetup{name: "svn", flags: []string{"--set-env", "SVN_REPO=" + repo}, client: func(base string) appClient {
		c := &http.Client{Timeout: time.Minute}
		return appClient{"svn", func(int) error {
			_, err := expectReply(c, "GET", base+"svnrepo.py", "", nil, 200, "text/plain",
				"svn youngest 1 entries [b'README', b'trunk']\n")
			return err
		}}
	}}, ""
}

// createSvnRepo makes a Subversion repository under dir with Debian's
// python3-subversion (revision 1: trunk/ and README), writable by every
// user, and returns its path.
func createSvnRepo(dir string) (string, error) {
	repo := filepath.Join(dir, "svnrepo")
	create := exec.Command("/usr/bin/python3", "-c", `import sys
from svn import fs, repos
r = repos.create(sys.argv[1], None, None, None, None)
txn = repos.fs_begin_txn_for_commit(r, 0, "test", "init")
root = fs.txn_root(txn)
fs.make_dir(root, "trunk")
fs.make_file(root, "README")
repos.fs_commit_txn(r, txn)`, repo)
	if out, err := create.CombinedOutput(); err != nil {
		return "", fmt.Errorf("creating %s: %v\n%s", repo, err, out)
	}
	if out, err := exec.Command("chmod", "-R", "a+rwX", repo).CombinedOutput(); err != nil {
		return "", fmt.Errorf("chmod %s: %v\n%s", repo, err, out)
	}
	return repo, nil
}

// prepareDjango makes the guestbook's SQLite database with the project's
// own migration (manage.py migrate); its client is a djangoClient.
func prepareDjango(t *testing.T, root, _ string) (appSetup, string) {
	if unavailable := debianPackage(t, "python3-django", "django"); unavailable != "" {
		return appSetup{}, "django_site.py: " + unavailable
	}
	dbDir := filepath.Join(root, "db")
	if err := os.Mkdir(dbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dbDir, "guestbook.sqlite3")
	migrate := exec.Command("/usr/bin/python3", "manage.py", "migrate", "--noinput")
	migrate.Dir = filepath.Join(root, "apps", "djangosite")
	migrate.Env = append(os.Environ(), "GUESTBOOK_DB="+db, "PYTHONDONTWRITEBYTECODE=1")
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("manage.py migrate: %v\n%s", err, out)
	}
	// SQLite writes the file and a journal beside it as the scripts' user.
	for path, mode := range map[string]os.FileMode{dbDir: 0o777, db: 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	return appSetup{name: "django", flags: []string{"--set-env", "GUESTBOOK_DB=" + db}, client: func(base string) appClient {
		d := newDjangoClient(t, base+"django_site.py")
		return appClient{"django", d.round}
	}}, ""
}

// djangoClient signs the guestbook through its CSRF-protected form and
// checks every page against what it wrote.
type djangoClient struct {
	url     string       // .../cgi-bin/django_site.py
	c       *http.Client // keeps the csrftoken cookie; sees redirects
	anon    *http.Client // without cookies
	entries string       // the index page's list items so far
	n       int          // how many entries
}

const djangoScript = "/cgi-bin/django_site.py"

var djangoToken = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)

func newDjangoClient(t *testing.T, url string) *djangoClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &djangoClient{
		url:  url,
		c:    &http.Client{Timeout: time.Minute, Jar: jar, CheckRedirect: noRedirect},
		anon: &http.Client{Timeout: time.Minute, CheckRedirect: noRedirect},
	}
}

// djangoEscape is Django's autoescape (django.utils.html.escape).
var djangoEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;").Replace

// signPage is the form page, its token replaced by TOKEN.
func djangoSignPage(errors, name, message string) string {
	return "<!DOCTYPE html>\n<title>Sign the guestbook</title>\n" + errors +
		`<form method="post" action="` + djangoScript + `/sign/"><input type="hidden" name="csrfmiddlewaretoken" value="TOKEN">` + "\n" +
		`<input name="name" value="` + djangoEscape(name) + "\">\n" +
		`<input name="message" value="` + djangoEscape(message) + "\">\n" +
		"<button>Sign</button>\n</form>\n"
}

// expectForm fetches or posts the form page and checks it whole but for
// its (per-response) token, which it returns.
func (d *djangoClient) expectForm(method string, body url.Values, want string) (string, error) {
	r, err := appRequest(d.c, method, d.url+"/sign/", "application/x-www-form-urlencoded", []byte(body.Encode()))
	if err != nil {
		return "", err
	}
	m := djangoToken.FindStringSubmatch(r.body)
	if m == nil {
		return "", fmt.Errorf("%s /sign/: %d, no CSRF token in %q", method, r.code, excerpt([]byte(r.body)))
	}
	page := strings.Replace(r.body, m[1], "TOKEN", 1)
	if r.code != 200 || r.header.Get("Content-Type") != "text/html; charset=utf-8" || page != want {
		return "", fmt.Errorf("%s /sign/: got %d %q %q, want 200 %q", method, r.code, r.header.Get("Content-Type"), page, want)
	}
	return m[1], nil
}

func (d *djangoClient) round(i int) error {
	const html = "text/html; charset=utf-8"
	index := func() error {
		_, err := expectReply(d.c, "GET", d.url+"/", "", nil, 200, html, fmt.Sprintf(
			"<!DOCTYPE html>\n<title>Guestbook</title>\n<h1>Guestbook (%d entries)</h1>\n<ul>\n%s</ul>\n<a href=\"%s/sign/\">Sign</a>\n",
			d.n, d.entries, djangoScript))
		return err
	}
	if err := index(); err != nil {
		return err
	}
	if _, err := expectReply(d.c, "GET", fmt.Sprintf("%s/square/%d/", d.url, i), "", nil, 200, "text/plain; charset=utf-8",
		fmt.Sprintf("%d squared is %d\n", i, i*i)); err != nil {
		return err
	}
	token, err := d.expectForm("GET", nil, djangoSignPage("", "", ""))
	if err != nil {
		return err
	}
	// Invalid: the form again, with the error and what was typed.
	message := fmt.Sprintf(`says "hi" & it's round %d, grüße`, i)
	token, err = d.expectForm("POST", url.Values{"csrfmiddlewaretoken": {token}, "name": {""}, "message": {message}},
		djangoSignPage("<p class=\"error\">name: This field is required.</p>\n", "", message))
	if err != nil {
		return err
	}
	name := fmt.Sprintf("Visitor <%d>", i)
	form := url.Values{"csrfmiddlewaretoken": {token}, "name": {name}, "message": {message}}
	r, err := expectReply(d.c, "POST", d.url+"/sign/", "application/x-www-form-urlencoded", []byte(form.Encode()), 302, html, "")
	if err != nil {
		return err
	}
	if loc := r.header.Get("Location"); loc != djangoScript+"/" {
		return fmt.Errorf("POST /sign/: redirected to %q, want %q", loc, djangoScript+"/")
	}
	d.entries += "<li>" + djangoEscape(name) + ": " + djangoEscape(message) + "</li>\n"
	d.n++
	if err := index(); err != nil {
		return err
	}
	// Without the cookie the middleware refuses the post.
	if _, err := expectReply(d.anon, "POST", d.url+"/sign/", "application/x-www-form-urlencoded", []byte(form.Encode()),
		403, "text/plain; charset=utf-8", "csrf rejected: CSRF cookie not set.\n"); err != nil {
		return err
	}
	_, err = expectReply(d.c, "GET", fmt.Sprintf("%s/nope-%d/", d.url, i), "", nil, 404, html,
		fmt.Sprintf("<!DOCTYPE html>\n<title>Not here</title>\n<p>No page at %s/nope-%d/.</p>\n", djangoScript, i))
	return err
}

// prepareFlask needs only Flask; its client reads pages, JSON and posts a
// form.
func prepareFlask(t *testing.T, _, _ string) (appSetup, string) {
	if unavailable := debianPackage(t, "python3-flask", "flask"); unavailable != "" {
		return appSetup{}, "flask_app.py: " + unavailable
	}
	return appSetup{name: "flask", client: func(base string) appClient {
		c := &http.Client{Timeout: time.Minute}
		return appClient{"flask", func(i int) error { return flaskRound(c, base+"flask_app.py", i) }}
	}}, ""
}

// flaskPage is the page base.html makes of a title and a body (Jinja's
// escaping is html.EscapeString's).
func flaskPage(title, body string) string {
	return "<!DOCTYPE html>\n<title>" + title + "</title>\n<nav><a href=\"/cgi-bin/flask_app.py/\">Notes</a></nav>\n" + body
}

func flaskRound(c *http.Client, app string, i int) error {
	const page, text = "text/html; charset=utf-8", "text/plain; charset=utf-8"
	const script = "/cgi-bin/flask_app.py"
	if _, err := expectReply(c, "GET", app+"/", "", nil, 200, page, flaskPage("Notes",
		`<p>Say <a href="`+script+`/hello/world">hello</a> or write a <a href="`+script+`/notes">note</a>.</p>`)); err != nil {
		return err
	}
	name := fmt.Sprintf("wörld <%d> & 'co'", i)
	if _, err := expectReply(c, "GET", app+"/hello/"+url.PathEscape(name), "", nil, 200, page,
		flaskPage("Hello "+html.EscapeString(name), "<h1>Hello, "+html.EscapeString(name)+"!</h1>")); err != nil {
		return err
	}
	r, err := appRequest(c, "GET", fmt.Sprintf("%s/api/square/%d", app, i), "", nil)
	if err != nil {
		return err
	}
	var got map[string]any
	want := map[string]any{"n": float64(i), "square": float64(i * i), "path": fmt.Sprintf("/api/square/%d", i)}
	if err := json.Unmarshal([]byte(r.body), &got); r.code != 200 || r.header.Get("Content-Type") != "application/json" ||
		err != nil || !reflect.DeepEqual(got, want) {
		return fmt.Errorf("GET /api/square/%d: %d %q %q (%v), want 200 application/json %v", i, r.code, r.header.Get("Content-Type"), r.body, err, want)
	}
	if _, err := expectReply(c, "GET", app+"/notes", "", nil, 200, page, flaskPage("Notes",
		`<form method="post" action="`+script+`/notes"><input name="title"><textarea name="body"></textarea><button>Save</button></form>`)); err != nil {
		return err
	}
	title, body := fmt.Sprintf("Note <%d>", i), fmt.Sprintf("line one & \"two\"\nround %d: ü", i)
	form := url.Values{"title": {title}, "body": {body}}
	if _, err := expectReply(c, "POST", app+"/notes", "application/x-www-form-urlencoded", []byte(form.Encode()), 200, page,
		flaskPage(html.EscapeString(title), "<h1>"+html.EscapeString(title)+"</h1>\n<pre>"+html.EscapeString(body)+"</pre>")); err != nil {
		return err
	}
	if _, err := expectReply(c, "POST", app+"/notes", "application/x-www-form-urlencoded", []byte("title=only"), 400, text,
		"bad request: no field body\n"); err != nil {
		return err
	}
	_, err = expectReply(c, "GET", fmt.Sprintf("%s/missing-%d", app, i), "", nil, 404, text, fmt.Sprintf("no page at /missing-%d\n", i))
	return err
}

// prepareClassicForm serves testdata/cgi-bin/form.py (cgi.FieldStorage):
// query strings, urlencoded posts and multipart uploads.
func prepareClassicForm(t *testing.T, _, cgiDir string) (appSetup, string) {
	copyScript(t, cgiDir, "form.py", "form.py")
	return appSetup{name: "form", client: func(base string) appClient {
		c := &http.Client{Timeout: time.Minute}
		return appClient{"form.py", func(i int) error { return classicFormRound(c, base+"form.py", i) }}
	}}, ""
}

func classicFormRound(c *http.Client, script string, i int) error {
	const text = "text/plain; charset=utf-8"
	if _, err := expectReply(c, "GET", fmt.Sprintf("%s?name=Ann+%d&tag=x&tag=y&empty=", script, i), "", nil, 200, text,
		fmt.Sprintf("method=GET\nname=Ann %d\ntag=x\ntag=y\n", i)); err != nil {
		return err
	}
	if _, err := expectReply(c, "POST", script, "application/x-www-form-urlencoded", []byte(fmt.Sprintf("b=two+words&a=%d&b=%%C3%%BC", i)),
		200, text, fmt.Sprintf("method=POST\na=%d\nb=two words\nb=ü\n", i)); err != nil {
		return err
	}
	// An upload of a few hundred kilobytes at most, different every round.
	data := make([]byte, 1+(i*7919)%300000)
	for j := range data {
		data[j] = byte(j*31 + i)
	}
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	note := fmt.Sprintf("round %d ü", i)
	_ = w.WriteField("note", note)
	fw, _ := w.CreateFormFile("upload", fmt.Sprintf("data-%d.bin", i))
	_, _ = fw.Write(data)
	_ = w.Close()
	_, err := expectReply(c, "POST", script, w.FormDataContentType(), b.Bytes(), 200, text,
		fmt.Sprintf("method=POST\nnote=%s\nupload: file 'data-%d.bin', %d bytes, sha256 %x\n", note, i, len(data), sha256.Sum256(data)))
	return err
}

// prepareClassicEnviron serves two more classic scripts: environ_fs.py
// (FieldStorage with its default environ) and compat/023-cgi-globals.py
// (changes the cgi module's globals, which the next request must not see).
func prepareClassicEnviron(t *testing.T, _, cgiDir string) (appSetup, string) {
	copyScript(t, cgiDir, "environ_fs.py", "environ_fs.py")
	copyScript(t, cgiDir, "cgi_globals.py", "compat/023-cgi-globals.py")
	return appSetup{name: "environ", client: func(base string) appClient {
		c := &http.Client{Timeout: time.Minute}
		return appClient{"environ_fs.py+cgi_globals.py", func(i int) error {
			if _, err := expectReply(c, "GET", fmt.Sprintf("%senviron_fs.py?q=value+%d", base, i), "", nil, 200, "text/plain",
				fmt.Sprintf("q=value %d\n", i)); err != nil {
				return err
			}
			if _, err := expectReply(c, "GET", base+"environ_fs.py", "", nil, 200, "text/plain", "q=(none)\n"); err != nil {
				return err
			}
			_, err := expectReply(c, "GET", base+"cgi_globals.py", "", nil, 200, "text/plain",
				"maxlen: 0\nlogfile: ''\nlog: initlog\nlogfp: None\n")
			return err
		}}
	}}, ""
}
