package cgienv

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScriptCacheBounds: the cache forgets entries after their interval,
// never holds more than scriptCacheSize paths (a client can make endless
// PATH_INFOs), and does not keep very long paths.
func TestScriptCacheBounds(t *testing.T) {
	c := newScriptCache(time.Hour)
	s := Script{Filename: "/srv/x.py", Name: "/cgi-bin/x.py"}
	for i := range scriptCacheSize + 10 {
		c.put("/cgi-bin/x.py/"+strconv.Itoa(i), s)
		if len(c.m) > scriptCacheSize {
			t.Fatalf("after %d paths the cache holds %d, want at most %d", i+1, len(c.m), scriptCacheSize)
		}
	}
	last := "/cgi-bin/x.py/" + strconv.Itoa(scriptCacheSize+9)
	if got, ok := c.get(last); !ok || got != s {
		t.Errorf("get(%q) = %+v, %v; want the script just put", last, got, ok)
	}
	long := "/cgi-bin/x.py/" + strings.Repeat("a", scriptCacheKey)
	c.put(long, s)
	if _, ok := c.get(long); ok {
		t.Errorf("a path of %d bytes was kept", len(long))
	}

	short := newScriptCache(time.Nanosecond)
	short.put("/cgi-bin/x.py", s)
	time.Sleep(time.Millisecond)
	if _, ok := short.get("/cgi-bin/x.py"); ok {
		t.Error("an entry older than the interval was returned")
	}
}
