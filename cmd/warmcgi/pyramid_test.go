package main

// TestPyramidApp serves a Pyramid application with SQLAlchemy declarative
// models (testdata/apps/pyrsite), issue 15 item 1's second registry-style
// framework: Pyramid's config.scan imports the project's view module from
// library code, so the module stays loaded with Pyramid (held), and still
// every request sees it as a new CGI process would: a global it counts
// requests in is 0 every time, an edit is seen at once, and another
// script's own package of the same name is that script's.

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestPyramidApp(t *testing.T) {
	if testing.Short() {
		t.Skip("a Pyramid application, many requests; skipped with -short")
	}
	for _, pkg := range [][2]string{{"python3-pyramid", "pyramid"}, {"python3-sqlalchemy", "sqlalchemy"}} {
		if unavailable := debianPackage(t, pkg[0], pkg[1]); unavailable != "" {
			t.Skip(unavailable)
		}
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
			dbDir := filepath.Join(root, "db-"+mode.name)
			if err := os.Mkdir(dbDir, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dbDir, 0o777); err != nil {
				t.Fatal(err)
			}
			// One worker: every request, of both scripts, in one interpreter.
			p := startWarmcgiProcess(t, cgiDir, append([]string{"-w", "1", "--set-env", "NOTES_DB=" + filepath.Join(dbDir, "notes.db")}, mode.flags...)...)
			c := &notesClient{base: p.url + "cgi-bin/pyramid_app.py", writes: &sync.Mutex{}}
			for i := range 5 {
				if err := c.round(fmt.Sprintf("s%d", i)); err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				if i == 2 {
					if err := expectBody(p.url+"cgi-bin/samename.py", "pyrnotes is the samename tree\n"); err != nil {
						t.Fatalf("the other script's package: %v", err)
					}
				}
			}
			concurrentRounds(t, 4, 3, func(k int) func(int) error {
				return func(i int) error { return c.round(fmt.Sprintf("c%dr%d", k, i)) }
			})
			// An edit of the held view module is seen by the next request.
			views := filepath.Join(root, "apps", "pyrsite", "pyrnotes", "views.py")
			old, err := os.ReadFile(views)
			if err != nil {
				t.Fatal(err)
			}
			edited := strings.ReplaceAll(string(old), `"served before: %d\n`, `"served before (edited): %d\n`)
			if err := os.WriteFile(views, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			err = expectBodyPrefix(c.base+"/", "served before (edited): 0\n")
			os.WriteFile(views, old, 0o644)
			if err != nil {
				t.Errorf("after editing views.py: %v", err)
			}
			if err := c.round("after"); err != nil {
				t.Errorf("after the edit was undone: %v", err)
			}
			logs := p.stderr.String()
			for _, bad := range []string{"Traceback", "Warning"} {
				if strings.Contains(logs, bad) {
					t.Errorf("the server's log has %q:\n%s", bad, logs)
				}
			}
		})
	}
}

// notesClient drives the Pyramid application; writes is held around each
// POST (SQLite refuses at once a transaction that read and then writes
// while another writes).
type notesClient struct {
	base   string // http://127.0.0.1:PORT/cgi-bin/pyramid_app.py
	writes *sync.Mutex
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (c *notesClient) postFor(path string, form url.Values) (string, error) {
	c.writes.Lock()
	resp, err := noRedirects.PostForm(c.base+path, form)
	c.writes.Unlock()
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("POST %s: %d, want 302:\n%s", path, resp.StatusCode, b)
	}
	return resp.Header.Get("Location"), nil
}

// round adds a note with two tags, reads it back, deletes it (its tags go
// by the relationship's cascade) and checks it is gone.
func (c *notesClient) round(tag string) error {
	loc, err := c.postFor("/add", url.Values{"text": {"note " + tag}, "tag": {"b" + tag, "a" + tag}})
	if err != nil {
		return err
	}
	i := strings.LastIndex(loc, "/note/")
	if i < 0 {
		return fmt.Errorf("the new note's address: %q", loc)
	}
	id := loc[i+len("/note/"):]
	want := fmt.Sprintf("served before: 0\nnote %s [a%s,b%s]\n", tag, tag, tag)
	if err := expectBody(c.base+"/note/"+id, want); err != nil {
		return err
	}
	loc, err = c.postFor("/delete/"+id, nil)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(loc, "?tags_left=0") {
		return fmt.Errorf("after the delete: %q, want its tags gone (tags_left=0)", loc)
	}
	resp, err := http.Get(c.base + "/note/" + id)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("GET /note/%s after the delete: %d, want 404", id, resp.StatusCode)
	}
	return nil
}

func expectBody(u, want string) error {
	body, err := getBody(u)
	if err == nil && body != want {
		err = fmt.Errorf("GET %s: %q, want %q", u, body, want)
	}
	return err
}

func expectBodyPrefix(u, want string) error {
	body, err := getBody(u)
	if err == nil && !strings.HasPrefix(body, want) {
		err = fmt.Errorf("GET %s: %q, want it to start with %q", u, body, want)
	}
	return err
}

func getBody(u string) (string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d:\n%s", u, resp.StatusCode, b)
	}
	return string(b), err
}
