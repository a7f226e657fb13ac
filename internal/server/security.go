package server

// The checks and limits that defend the server against hostile clients and
// keep scripts from running with more privilege than they need: the HTTP
// server's limits and timeouts, the checks on DIR and the switch to an
// unprivileged user (README "Security"; shared/SECURITY.md has the
// threats). The connection limit itself is frontend.LimitListener.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/frontend"
)

// Security is what the security flags set, plus what prepare derives
// from them.
type Security struct {
	User               string   // --user
	AllowRoot          bool     // --allow-root
	AllowWorldWritable bool     // --allow-world-writable
	TrustedProxies     []string // --trusted-proxy
	MaxHeaderBytes     string   // --max-header-bytes
	MaxURLLength       int      // --max-url-length
	ReadHeaderTimeout  time.Duration
	IdleTimeout        time.Duration
	WriteTimeout       time.Duration
	MaxConnections     int

	// Set by prepare.
	proxies     []netip.Prefix
	headerBytes int
	target      *runAs // nil: stay who we are
}

// runAs is the user --user names, looked up once.
type runAs struct {
	name     string
	uid, gid int
	groups   []int // supplementary groups, the primary one included
}

// prepare checks the security flags and the served directory before
// anything is bound or started, and looks up the --user account. Every
// error is a bad or refused command line (exit code 2).
func (s *Security) prepare(dir string) error {
	n, err := ParseSize(s.MaxHeaderBytes)
	if err != nil || n < 1024 || n > 1<<30 {
		return fmt.Errorf("--max-header-bytes %q: want a size from 1KiB to 1GiB", s.MaxHeaderBytes)
	}
	s.headerBytes = int(n)
	if s.MaxURLLength < 0 || s.MaxConnections < 0 || s.ReadHeaderTimeout < 0 || s.IdleTimeout < 0 || s.WriteTimeout < 0 {
		return fmt.Errorf("--max-url-length, --max-connections and the timeouts cannot be negative")
	}
	for _, v := range s.TrustedProxies {
		p, err := parseTrustedProxy(v)
		if err != nil {
			return fmt.Errorf("--trusted-proxy %q: want a CIDR (10.0.0.0/8) or an IP address", v)
		}
		s.proxies = append(s.proxies, p)
	}

	uid := os.Geteuid()
	if s.User != "" {
		t, err := lookupUser(s.User)
		if err != nil {
			return fmt.Errorf("--user %q: %v", s.User, err)
		}
		s.target, uid = t, t.uid
	}
	if uid == 0 && !s.AllowRoot {
		if s.User != "" {
			return fmt.Errorf("refusing to run scripts as root (--user %s): name an unprivileged user, or pass --allow-root", s.User)
		}
		return fmt.Errorf("refusing to run scripts as root: pass --user NAME to switch to an unprivileged user after binding the port, or --allow-root")
	}

	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%v", err)
	}
	if fi.Mode().Perm()&0o002 != 0 && !s.AllowWorldWritable {
		return fmt.Errorf("refusing to serve %s: every user may write to it, so anyone could add a script (chmod o-w, or pass --allow-world-writable)", dir)
	}
	return nil
}

// parseTrustedProxy reads "10.0.0.0/8", "2001:db8::/32" or a single
// address.
func parseTrustedProxy(v string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("invalid")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// lookupUser finds a user by name or numeric id, with its groups.
func lookupUser(name string) (*runAs, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, numErr := strconv.Atoi(name); numErr != nil {
			return nil, err
		}
		if u, err = user.LookupId(name); err != nil {
			return nil, err
		}
	}
	t := &runAs{name: u.Username}
	if t.uid, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("uid %q: %w", u.Uid, err)
	}
	if t.gid, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	t.groups = []int{t.gid}
	for _, id := range ids {
		g, err := strconv.Atoi(id)
		if err != nil {
			return nil, fmt.Errorf("group id %q: %w", id, err)
		}
		if g != t.gid {
			t.groups = append(t.groups, g)
		}
	}
	return t, nil
}

// configureHandler hands the CGI layer its share of the flags.
func (s *Security) configureHandler(h *cgienv.Handler) {
	h.TrustedProxies = s.proxies
	h.AllowWorldWritable = s.AllowWorldWritable
	h.MaxURLLength = s.MaxURLLength
	if s.MaxURLLength == 0 {
		h.MaxURLLength = -1 // no limit
	}
}

// configureServer sets the HTTP server's limits and timeouts.
func (s *Security) configureServer(srv *http.Server) {
	// A client must send its request line and headers within this time,
	// or the connection is closed: slowloris clients trickling header
	// bytes cannot hold connections open. The body is read by the
	// handler, in full, before a worker is assigned.
	srv.ReadHeaderTimeout = s.ReadHeaderTimeout
	// An idle keep-alive connection is closed after this long, so idle
	// clients do not pin connection slots (--max-connections) for ever.
	srv.IdleTimeout = s.IdleTimeout
	// Request line plus headers above this size get 431 (net/http allows
	// 4 KiB of slack above it).
	srv.MaxHeaderBytes = s.headerBytes
}

// limit wraps the listener in the write timeout and the connection limit,
// where they are set.
func (s *Security) limit(ln net.Listener, logger *slog.Logger) net.Listener {
	ln = frontend.WriteTimeoutListener(ln, s.WriteTimeout)
	if s.MaxConnections == 0 {
		return ln
	}
	return frontend.LimitListener(ln, s.MaxConnections, logger)
}

// dropPrivileges switches the whole process (every thread: Go applies
// setuid and friends to all of them on Linux) to the --user account:
// supplementary groups first, then the group, then the user, for real,
// effective and saved ids alike, so that root cannot be regained. It must
// run after the listener is bound and before Python or any worker thread
// starts. dir is checked to be readable by the new user.
func (s *Security) dropPrivileges(dir string, logger *slog.Logger) error {
	t := s.target
	if t == nil {
		return nil
	}
	if os.Getuid() != t.uid || os.Geteuid() != t.uid {
		if err := syscall.Setgroups(t.groups); err != nil {
			return fmt.Errorf("--user %s: setgroups: %w (switching users needs root)", t.name, err)
		}
		if err := syscall.Setresgid(t.gid, t.gid, t.gid); err != nil {
			return fmt.Errorf("--user %s: setresgid: %w", t.name, err)
		}
		if err := syscall.Setresuid(t.uid, t.uid, t.uid); err != nil {
			return fmt.Errorf("--user %s: setresuid: %w", t.name, err)
		}
	}
	if os.Getuid() != t.uid || os.Geteuid() != t.uid || os.Getgid() != t.gid || os.Getegid() != t.gid {
		return fmt.Errorf("--user %s: still uid %d/%d gid %d/%d after switching", t.name,
			os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	}
	if t.uid != 0 && syscall.Setuid(0) == nil {
		return fmt.Errorf("--user %s: root could be regained after switching", t.name)
	}
	const rOK, xOK = 4, 1
	if err := syscall.Access(dir, rOK|xOK); err != nil {
		return fmt.Errorf("--user %s cannot read %s: %w", t.name, dir, err)
	}
	logger.Info("switched user", "user", t.name, "uid", t.uid, "gid", t.gid, "groups", t.groups)
	return nil
}

// pycacheDir decides where the bytecode of helper modules is cached once
// the process runs as the --user account, which cannot write to root's
// cache directory. Without --user, an explicit --pycache-dir is used as
// given; the default (under the user's cache directory) falls back to
// $TMPDIR/warmcgi-pycache-UID when it cannot be created, as for a system
// account whose home is /nonexistent (the Docker image's user). With
// --user:
//
//   - an explicit --pycache-dir is created (0700) if missing and must be
//     a directory owned by that user that no one else may write to, or
//     the server does not start;
//   - otherwise the cache is $TMPDIR/warmcgi-pycache-UID, created 0700.
//
// A $TMPDIR cache that exists and is not a private directory of the user
// (someone else made it, to plant bytecode) is not used: no bytecode is
// cached at all and a warning says why.
//
// It runs after dropPrivileges, as the user.
func (s *Security) pycacheDir(dir string, explicit bool, logger *slog.Logger) (string, error) {
	if explicit && (dir == "" || s.target == nil) {
		return dir, nil
	}
	uid := os.Getuid()
	if s.target != nil {
		uid = s.target.uid
	}
	tmp := filepath.Join(os.TempDir(), "warmcgi-pycache-"+strconv.Itoa(uid))
	switch {
	case explicit:
	case s.target != nil:
		dir = tmp
	case dir == "":
		dir = tmp // no home to hold a cache directory
	default:
		err := os.MkdirAll(dir, 0o700)
		if err == nil {
			return dir, nil
		}
		logger.Info("bytecode cache moved to "+tmp, "reason", err)
		dir = tmp
	}
	err := privateDir(dir, uid)
	switch {
	case err == nil:
		return dir, nil
	case explicit:
		return "", fmt.Errorf("--pycache-dir: %w", err)
	}
	logger.Warn("no bytecode cache for helper modules", "err", err)
	return "", nil
}

// privateDir creates dir (0700) if it is missing and checks that it is a
// real directory owned by uid that neither its group nor others can write.
func privateDir(dir string, uid int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return err
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFDIR:
		return fmt.Errorf("%s is not a directory", dir)
	case int(st.Uid) != uid:
		return fmt.Errorf("%s belongs to uid %d, not %d", dir, st.Uid, uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s is writable by its group or others (mode %#o)", dir, st.Mode&0o777)
	}
	return nil
}
