package main

// The security flags (README "Security"); internal/server applies them.

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/warmcgi/warmcgi/cgienv"
	"github.com/warmcgi/warmcgi/internal/server"
)

// Defaults of the security flags.
const (
	defaultMaxHeaderBytes    = "64KiB"
	defaultReadHeaderTimeout = 10 * time.Second
	defaultIdleTimeout       = 2 * time.Minute
	defaultWriteTimeout      = 5 * time.Minute // Debian's Apache: Timeout 300
	defaultMaxConnections    = 4096
)

func addSecurityFlags(fs *pflag.FlagSet, c *server.Security) {
	fs.StringVar(&c.User, "user", "", "switch to this user and its groups after binding the listener, before Python starts (needs root)")
	fs.BoolVar(&c.AllowRoot, "allow-root", false, "allow scripts to run as root (refused by default)")
	fs.BoolVar(&c.AllowWorldWritable, "allow-world-writable", false, "run scripts from a DIR, subdirectory or file every user may write to (refused by default)")
	fs.StringArrayVar(&c.TrustedProxies, "trusted-proxy", nil, "believe X-Forwarded-For/-Proto/-Host/-Port from peers in this CIDR or IP (repeatable)")
	fs.StringVar(&c.MaxHeaderBytes, "max-header-bytes", defaultMaxHeaderBytes, "largest request line plus headers accepted (431 above)")
	fs.IntVar(&c.MaxURLLength, "max-url-length", cgienv.DefaultMaxURLLength, "longest request-target accepted (414 above), like Apache's LimitRequestLine; 0: no limit")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "time a client has to send its request headers; 0: no limit")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", defaultIdleTimeout, "how long a keep-alive connection may wait for its next request; 0: no limit")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", defaultWriteTimeout, "how long a client may leave the response unread before its connection is closed (each 64 KiB sent must be taken within it); 0: no limit")
	fs.IntVar(&c.MaxConnections, "max-connections", defaultMaxConnections, "most client connections open at once (others wait to be accepted); 0: no limit")
}
