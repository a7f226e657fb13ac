package cgienv

import (
	"strings"
	"sync"
	"time"
)

// scriptCacheSize bounds the number of request paths a scriptCache holds,
// and scriptCacheKey the length of a path it remembers (about 4 MiB in
// all). Paths carry PATH_INFO, so a client can make as many as it likes:
// when the cache is full it starts over rather than grow.
const (
	scriptCacheSize = 4096
	scriptCacheKey  = 512
)

// scriptCache remembers, for StatInterval, what a request path resolved
// to: the script, its PATH_INFO and the identity (Stamp) of its file. A
// request for a remembered path then makes no system call at all, where
// resolving it makes two or more (lstat of each segment, access of the
// script). Only scripts found are remembered: a file that appears is
// served at once; one changed, removed or made unrunnable is seen within
// the interval (COMPAT 14 allows "every N ms"), or at the next request
// when Handler.ChangesPending is set and changes are reported through
// Handler.Invalidate.
type scriptCache struct {
	ttl   time.Duration
	epoch time.Time // the clock is time.Since(epoch): monotonic, cheap

	mu  sync.RWMutex
	m   map[string]cachedScript
	gen uint64 // counts invalidations, so a walk that raced one is not kept
}

type cachedScript struct {
	s     Script
	f     found
	until time.Duration // since epoch
}

func newScriptCache(ttl time.Duration) *scriptCache {
	return &scriptCache{ttl: ttl, epoch: time.Now(), m: make(map[string]cachedScript)}
}

// get returns the script remembered for the clean path p, if it is still
// fresh.
func (c *scriptCache) get(p string) (Script, found, bool) {
	c.mu.RLock()
	e, ok := c.m[p]
	c.mu.RUnlock()
	if !ok || time.Since(c.epoch) >= e.until {
		return Script{}, found{}, false
	}
	return e.s, e.f, true
}

// put remembers s as what p resolved to just now.
func (c *scriptCache) put(p string, s Script) { c.putIf(p, s, found{}, c.generation()) }

// generation returns the invalidation count, to be read before a walk.
func (c *scriptCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// putIf remembers s as what p resolved to, unless an invalidation came
// after gen was read: the walk may then have seen the file before the
// change, and keeping it would hide the change until the interval ends.
func (c *scriptCache) putIf(p string, s Script, f found, gen uint64) {
	if len(p) > scriptCacheKey {
		return
	}
	// Copies: the strings may point into a request's longer ones.
	p = strings.Clone(p)
	s.Filename, s.Name, s.PathInfo = strings.Clone(s.Filename), strings.Clone(s.Name), strings.Clone(s.PathInfo)
	until := time.Since(c.epoch) + c.ttl
	c.mu.Lock()
	if c.gen != gen {
		c.mu.Unlock()
		return
	}
	if _, ok := c.m[p]; !ok && len(c.m) >= scriptCacheSize {
		clear(c.m)
	}
	c.m[p] = cachedScript{s: s, f: f, until: until}
	c.mu.Unlock()
}

// invalidate forgets every path that resolved to the file name or to a
// file below it (name is then a directory: removed, renamed, or its
// permissions changed); an empty name forgets everything.
func (c *scriptCache) invalidate(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if name == "" {
		clear(c.m)
		return
	}
	for p, e := range c.m {
		if f := e.s.Filename; f == name || len(f) > len(name) && f[len(name)] == '/' && strings.HasPrefix(f, name) {
			delete(c.m, p)
		}
	}
}
