package main

// The listener flags' values: --listen none and --socket-mode.

import (
	"fmt"
	"os"
	"strconv"
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

// socketMode reads --socket-mode, an octal permission.
func socketMode(v string) (os.FileMode, error) {
	m, err := strconv.ParseUint(v, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("--socket-mode %q: want an octal mode such as 0660", v)
	}
	return os.FileMode(m), nil
}
