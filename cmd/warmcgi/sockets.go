package main

// The listener flags' values: --listen none, and --socket-mode and
// --socket-group turned into the frontend's socket options.

import (
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/warmcgi/warmcgi/internal/frontend"
)

// noListen is the --listen value that turns the HTTP listener off.
const noListen = "none"

// defaultSocketMode is the mode of the Unix sockets warmcgi creates:
// owner and group may connect, others may not. Whoever can connect to the
// FastCGI socket can claim any client address, HTTPS and REMOTE_USER, so
// the socket must not be open to every local user; a front end running as
// another user is let in through the group (--socket-group, or the --user
// account's group), as with php-fpm's listen.mode 0660.
const defaultSocketMode = "0660"

// socketOptionsFor reads --socket-mode and --socket-group. The socket
// belongs to the --user account when there is one, so that the server
// can still remove it after switching users (given a directory it may
// write to), and to its group unless --socket-group names another.
func socketOptionsFor(c *serveConfig) (frontend.SocketOptions, error) {
	o := frontend.SocketOptions{UID: -1, GID: -1}
	m, err := strconv.ParseUint(c.socketMode, 8, 32)
	if err != nil || m > 0o777 {
		return o, fmt.Errorf("--socket-mode %q: want an octal mode such as 0660", c.socketMode)
	}
	o.Mode = os.FileMode(m)
	if t := c.security.target; t != nil {
		o.UID, o.GID = t.uid, t.gid
	}
	if c.socketGroup != "" {
		g, err := user.LookupGroup(c.socketGroup)
		if err != nil {
			g, err = user.LookupGroupId(c.socketGroup)
		}
		if err != nil {
			return o, fmt.Errorf("--socket-group %q: %v", c.socketGroup, err)
		}
		if o.GID, err = strconv.Atoi(g.Gid); err != nil {
			return o, fmt.Errorf("--socket-group %q: gid %q: %v", c.socketGroup, g.Gid, err)
		}
	}
	return o, nil
}
