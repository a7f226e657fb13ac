package server

import (
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/warmcgi/warmcgi/internal/frontend"
)

// socketOptions gives the Unix sockets warmcgi creates their mode and
// owner. A socket belongs to the --user account when there is one, so that
// the server can still remove it after switching users (given a directory
// it may write to), and to its group unless group (--socket-group) names
// another.
func (s *Security) socketOptions(mode os.FileMode, group string) (frontend.SocketOptions, error) {
	o := frontend.SocketOptions{Mode: mode, UID: -1, GID: -1}
	if t := s.target; t != nil {
		o.UID, o.GID = t.uid, t.gid
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			g, err = user.LookupGroupId(group)
		}
		if err != nil {
			return o, fmt.Errorf("--socket-group %q: %v", group, err)
		}
		if o.GID, err = strconv.Atoi(g.Gid); err != nil {
			return o, fmt.Errorf("--socket-group %q: gid %q: %v", group, g.Gid, err)
		}
	}
	return o, nil
}
