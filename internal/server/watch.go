package server

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/fsnotify/fsnotify"

	"github.com/warmcgi/warmcgi/cgienv"
)

// scriptWatch keeps the handler's resolution cache (--stat-interval)
// true to DIR: inotify watches every directory below it, and each
// creation, removal, rename, write or permission change drops what the
// cache holds for that path, so the next request sees it, as under
// Apache, while unchanged scripts are still served without a system call.
// Where watches cannot be had, every request looks at the file system.
type scriptWatch struct {
	w      *fsnotify.Watcher
	h      *cgienv.Handler
	log    *slog.Logger
	root   string
	broken atomic.Bool // a directory could not be watched: trust nothing
	done   chan struct{}
}

// watchBuffer is how many events may wait for the loop; while any wait,
// the cache is not trusted (pending), so their number only affects speed.
const watchBuffer = 1024

// watchScripts starts the watch of the handler's Root, or, where inotify
// cannot watch it, sets the handler to look at every request; it logs
// which, and returns the watch (nil: none). It does nothing when
// --stat-interval is 0.
func (s *Server) watchScripts() *scriptWatch {
	h := s.cgi
	if h.StatInterval <= 0 {
		return nil
	}
	root := filepath.Clean(h.Root)
	fallback := func(reason string) {
		h.StatInterval = 0
		s.log.Warn("no inotify watch of DIR: every request looks at the file system", "dir", root, "reason", reason)
	}
	if kind := networkFS(root); kind != "" {
		fallback(kind + " (changes made on other machines raise no inotify events)")
		return nil
	}
	w, err := fsnotify.NewBufferedWatcher(watchBuffer)
	if err != nil {
		fallback(watchError(err))
		return nil
	}
	sw := &scriptWatch{w: w, h: h, log: s.log, root: root, done: make(chan struct{})}
	dirs, err := sw.addTree(root)
	if err != nil {
		w.Close()
		fallback(watchError(err))
		return nil
	}
	h.ChangesPending = sw.pending
	go sw.loop()
	s.deferUndo(func() {
		w.Close()
		<-sw.done
	})
	s.log.Info("watching DIR with inotify: a changed, removed or new script is seen at the next request",
		"dir", root, "directories", dirs)
	return sw
}

// pending is the handler's ChangesPending: events not yet applied, or
// watches lost.
func (sw *scriptWatch) pending() bool { return len(sw.w.Events) > 0 || sw.broken.Load() }

// loop applies events until the watcher is closed.
func (sw *scriptWatch) loop() {
	defer close(sw.done)
	events, errs := sw.w.Events, sw.w.Errors
	for events != nil || errs != nil {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			sw.apply(ev)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflow lost events: forget everything and go on.
			sw.h.Invalidate("")
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				sw.lose(err)
			}
		}
	}
}

// apply drops what the cache holds for the event's path, after watching a
// directory that appeared there and unwatching one that left.
func (sw *scriptWatch) apply(ev fsnotify.Event) {
	name := filepath.Clean(ev.Name)
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		if name == sw.root {
			sw.lose(errors.New("DIR itself was removed or renamed"))
		}
		// A renamed directory keeps its watches under the old name: drop
		// them, so the new name (a Create) is watched afresh.
		for _, p := range sw.w.WatchList() {
			if p == name || strings.HasPrefix(p, name+"/") {
				sw.w.Remove(p)
			}
		}
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(name); err == nil && fi.IsDir() {
			if _, err := sw.addTree(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				sw.lose(err)
			}
		}
	}
	sw.h.Invalidate(name)
}

// lose gives up on events: from now on every request looks.
func (sw *scriptWatch) lose(err error) {
	if !sw.broken.Swap(true) {
		sw.log.Warn("inotify watch of DIR lost: every request looks at the file system from now on",
			"dir", sw.root, "reason", watchError(err))
	}
}

// addTree watches dir and every directory below it that can hold a
// script (hidden directories and __pycache__ never do), and returns how
// many it watched.
func (sw *scriptWatch) addTree(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "__pycache__") {
			return filepath.SkipDir
		}
		if kind := networkFS(p); kind != "" {
			return errors.New(p + " is on " + kind)
		}
		if err := sw.w.Add(p); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// watchError names the usual reasons inotify fails.
func watchError(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "inotify watch limit reached (sysctl fs.inotify.max_user_watches): " + err.Error()
	case errors.Is(err, syscall.EMFILE):
		return "inotify instance limit reached (sysctl fs.inotify.max_user_instances): " + err.Error()
	}
	return err.Error()
}
