package main

// TestDjangoAdmin drives a real Django project's admin through real HTTP
// (testdata/apps/djadmin: two models related by a foreign key, a project
// middleware that imports them): add, change and delete, many rounds in a
// row and from several clients at once. Django holds the project's modules
// in its registries; when warmcgi purged them after each request, the
// middleware's import made second copies of the models ("Model ... was
// already registered"), and deleting an author in the admin failed with
// "FOREIGN KEY constraint failed" (issue 15, item 1).

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const djAdminPassword = "warmcgi-test-pw"

func TestDjangoAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("a Django project's admin, many requests; skipped with -short")
	}
	if unavailable := debianPackage(t, "python3-django", "django"); unavailable != "" {
		t.Skip(unavailable)
	}
	root, cgiDir := copyApps(t)
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"default", nil},
		{"subinterp", []string{"--isolation", "subinterp"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			db := djAdminDatabase(t, root, mode.name)
			p := startWarmcgiProcess(t, cgiDir, append([]string{"--set-env", "LIBRARY_DB=" + db}, mode.flags...)...)
			base := p.url + "cgi-bin/django_admin.py"
			var writes sync.Mutex
			c := newAdminClient(t, base, &writes)
			for i := range 6 {
				if err := c.round(fmt.Sprintf("serial %d", i)); err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
			}
			concurrentRounds(t, 4, 3, func(k int) func(int) error {
				c := newAdminClient(t, base, &writes)
				return func(i int) error { return c.round(fmt.Sprintf("client %d round %d", k, i)) }
			})
			// An edit of a module Django holds is seen by the next request
			// (the project and Django are imported afresh), as under CGI.
			views := filepath.Join(root, "apps", "djadmin", "library", "views.py")
			if err := c.editSeen(views); err != nil {
				t.Error(err)
			}
			logs := p.stderr.String()
			for _, bad := range []string{"already registered", "Traceback", "IntegrityError", "FOREIGN KEY"} {
				if strings.Contains(logs, bad) {
					t.Errorf("the server's log has %q:\n%s", bad, logs)
				}
			}
		})
	}
}

// djAdminDatabase makes the project's SQLite database (manage.py migrate)
// and its superuser, readable and writable by the scripts' user.
func djAdminDatabase(t *testing.T, root, name string) string {
	dbDir := filepath.Join(root, "db-"+name)
	if err := os.Mkdir(dbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dbDir, "library.sqlite3")
	env := append(os.Environ(), "LIBRARY_DB="+db, "PYTHONDONTWRITEBYTECODE=1",
		"DJANGO_SUPERUSER_USERNAME=admin", "DJANGO_SUPERUSER_EMAIL=admin@example.invalid",
		"DJANGO_SUPERUSER_PASSWORD="+djAdminPassword)
	for _, args := range [][]string{{"migrate", "--noinput"}, {"createsuperuser", "--noinput"}} {
		cmd := exec.Command("/usr/bin/python3", append([]string{"manage.py"}, args...)...)
		cmd.Dir = filepath.Join(root, "apps", "djadmin")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("manage.py %s: %v\n%s", args[0], err, out)
		}
	}
	for path, mode := range map[string]os.FileMode{dbDir: 0o777, db: 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// adminClient is one logged-in admin user (its own session and CSRF cookie).
type adminClient struct {
	base   string // http://127.0.0.1:PORT/cgi-bin/django_admin.py
	prefix string // /cgi-bin/django_admin.py
	hc     *http.Client
	err    error
	// writes is held around each POST: SQLite answers "database is
	// locked" at once, without waiting, to a transaction that read and
	// then writes while another writes (so would Apache's CGI processes);
	// the pages and views are read concurrently.
	writes *sync.Mutex
}

var adminToken = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`)

func newAdminClient(t *testing.T, base string, writes *sync.Mutex) *adminClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c := &adminClient{base: base, prefix: u.Path, writes: writes, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	login := "/admin/login/?next=" + url.QueryEscape(c.prefix+"/admin/")
	_, c.err = c.post(login, url.Values{"username": {"admin"}, "password": {djAdminPassword},
		"next": {c.prefix + "/admin/"}}, c.prefix+"/admin/")
	return c
}

// get returns the status, body and Location of GET path (below the script).
func (c *adminClient) get(path string) (int, string, string, error) {
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location"), err
}

// post GETs the form at path, posts it with its CSRF token and the
// fields, checks the answer redirects to a Location starting with want,
// and returns that Location.
func (c *adminClient) post(path string, fields url.Values, want string) (string, error) {
	status, body, _, err := c.get(path)
	if err != nil {
		return "", err
	}
	m := adminToken.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		return "", fmt.Errorf("GET %s: %d, no form:\n%s", path, status, body)
	}
	fields.Set("csrfmiddlewaretoken", m[1])
	c.writes.Lock()
	resp, err := c.hc.PostForm(c.base+path, fields)
	c.writes.Unlock()
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, want) {
		return "", fmt.Errorf("POST %s: %d to %q, want 302 to %s…:\n%s", path, resp.StatusCode, loc, want, b)
	}
	return loc, nil
}

var adminChangeURL = regexp.MustCompile(`/(\d+)/change/$`)

// round adds an author and a book of theirs, renames the author, checks
// the project's own view, deletes the author in the admin (the book goes
// with them, by the foreign key's cascade) and checks both are gone.
func (c *adminClient) round(tag string) error {
	if c.err != nil {
		return fmt.Errorf("login: %v", c.err)
	}
	admin := c.prefix + "/admin/library/"
	loc, err := c.post("/admin/library/author/add/", url.Values{"name": {"Author " + tag}, "_continue": {"1"}}, admin+"author/")
	if err != nil {
		return err
	}
	m := adminChangeURL.FindStringSubmatch(loc)
	if m == nil {
		return fmt.Errorf("the new author's page: %q", loc)
	}
	id := m[1]
	loc, err = c.post("/admin/library/book/add/", url.Values{"author": {id}, "title": {"Book " + tag}, "_continue": {"1"}}, admin+"book/")
	if err != nil {
		return err
	}
	if adminChangeURL.FindStringSubmatch(loc) == nil {
		return fmt.Errorf("the new book's page: %q", loc)
	}
	if _, err := c.post("/admin/library/author/"+id+"/change/", url.Values{"name": {"Renamed " + tag}, "_continue": {"1"}}, admin+"author/"+id+"/change/"); err != nil {
		return err
	}
	status, body, _, err := c.get("/author/" + id + "/")
	if want := "Renamed " + tag + ": Book " + tag + "\n"; err != nil || status != http.StatusOK || body != want {
		return fmt.Errorf("GET /author/%s/: %d %q (%v), want 200 %q", id, status, body, err, want)
	}
	if _, err := c.post("/admin/library/author/"+id+"/delete/", url.Values{"post": {"yes"}}, admin+"author/"); err != nil {
		return err
	}
	if status, body, _, err := c.get("/author/" + id + "/"); err != nil || status != http.StatusNotFound {
		return fmt.Errorf("GET /author/%s/ after the delete: %d (%v), want 404:\n%s", id, status, err, body)
	}
	status, body, _, err = c.get("/admin/library/book/")
	if err != nil || status != http.StatusOK || strings.Contains(body, "Book "+tag+"<") {
		return fmt.Errorf("the book list after the delete: %d (%v), still has %q:\n%s", status, err, "Book "+tag, body)
	}
	return nil
}

// editSeen adds an author, changes the project's view module so that it
// answers differently, checks the next request answers the new way, and
// puts the file back.
func (c *adminClient) editSeen(views string) error {
	old, err := os.ReadFile(views)
	if err != nil {
		return err
	}
	loc, err := c.post("/admin/library/author/add/", url.Values{"name": {"Edited"}, "_continue": {"1"}}, c.prefix+"/admin/library/author/")
	if err != nil {
		return err
	}
	m := adminChangeURL.FindStringSubmatch(loc)
	if m == nil {
		return fmt.Errorf("the new author's page: %q", loc)
	}
	edited := strings.Replace(string(old), `"%s: %s\n"`, `"%s (edited): %s\n"`, 1)
	if edited == string(old) {
		return fmt.Errorf("%s: the view's format is not where the test expects it", views)
	}
	defer os.WriteFile(views, old, 0o644)
	if err := os.WriteFile(views, []byte(edited), 0o644); err != nil {
		return err
	}
	status, body, _, err := c.get("/author/" + m[1] + "/")
	if want := "Edited (edited): \n"; err != nil || status != http.StatusOK || body != want {
		return fmt.Errorf("after editing views.py: %d %q (%v), want 200 %q", status, body, err, want)
	}
	return nil
}

// concurrentRounds runs n clients at once, each doing rounds rounds
// (client(k) makes client k and returns its round function), and reports
// each client's first error.
func concurrentRounds(t *testing.T, n, rounds int, client func(k int) func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			round := client(k)
			for i := range rounds {
				if err := round(i); err != nil {
					errs <- fmt.Errorf("client %d round %d: %v", k, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
