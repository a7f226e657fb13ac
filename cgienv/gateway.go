package cgienv

import (
	"context"
	"strings"
)

// Gateway is what a front end that speaks a gateway protocol (FastCGI)
// tells about a request beyond what an http.Request carries. Behind such
// a front end the connection is the front end's, not the client's: the
// front end knows which address and port the client reached and under
// which name, and it may add variables of its own (REMOTE_USER after its
// own authentication, values from its configuration), as it would for
// fcgiwrap.
type Gateway struct {
	// ServerName, ServerAddr and ServerPort replace SERVER_NAME,
	// SERVER_ADDR and SERVER_PORT as derived from the Host header and the
	// connection. Empty ones are derived as for a direct request (and
	// SERVER_ADDR is then left out). A trusted proxy's X-Forwarded-Host
	// and X-Forwarded-Port still win, as for a direct request.
	ServerName, ServerAddr, ServerPort string
	// Env holds "NAME=value" entries the script gets as well. An entry is
	// dropped when the handler computes that variable itself (the CGI
	// variables, HTTP_*, REDIRECT_*), when the server's environment or
	// SetEnv provides it, or when NAME is not a plain [A-Za-z0-9_] name:
	// a front end may add variables, never replace the handler's.
	Env []string
}

type gatewayKey struct{}

// WithGateway returns a context that makes the Handler build the
// environment of requests carrying it from g as well.
func WithGateway(ctx context.Context, g *Gateway) context.Context {
	return context.WithValue(ctx, gatewayKey{}, g)
}

func gatewayOf(ctx context.Context) *Gateway {
	g, _ := ctx.Value(gatewayKey{}).(*Gateway)
	return g
}

// gatewayEntryOK reports whether a front end's entry e may join an
// environment.
func (st *handlerState) gatewayEntryOK(e string) bool {
	name, _, ok := strings.Cut(e, "=")
	if !ok || name == "" || mayBeCGIName(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	for _, n := range st.baseNames {
		if n == name {
			return false
		}
	}
	return true
}
