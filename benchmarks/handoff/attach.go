//go:build attach

package main

import (
	"net/http"
	"runtime"
	"sync"

	"github.com/warmcgi/warmcgi/pyhost"
)

// The design b proper needs pyhost to run an interpreter on any thread:
// build with -tags attach after applying attach.patch (run.sh does).
func init() { designs["attach"] = serveAttach }

// serveAttach is design b as the brief puts it: n interpreters, each made
// on a thread of its own that then only sleeps; the connection's goroutine
// takes a free interpreter and runs the request on its own thread, on a
// thread state of that interpreter cached for the thread (pyhost.c,
// thread_ts).
func serveAttach(addr string, n int) error {
	pyhost.ProtoAnyThread()
	free := make(chan *cgiInterp, n)
	for range n {
		made := make(chan *cgiInterp)
		go func() {
			runtime.LockOSThread()
			ci, err := newCGIInterp()
			if err != nil {
				fail(err)
			}
			made <- ci
			select {} // the owner thread only keeps the interpreter's main thread state
		}()
		free <- <-made
	}
	var mu sync.Mutex // one interpreter: a mutex, which spins before it parks
	only := <-free
	if n > 1 {
		free <- only
	}
	h := func(w http.ResponseWriter, r *http.Request) {
		var ci *cgiInterp
		if n == 1 {
			mu.Lock()
			ci = only
		} else {
			ci = <-free
		}
		err := ci.run(r.Method, r.URL.RawQuery, true)
		var reply []byte
		if err == nil {
			reply = append(reply, ci.out...)
		}
		if n == 1 {
			mu.Unlock()
		} else {
			free <- ci
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeReply(w, reply)
	}
	return listenHTTP(addr, h)
}
