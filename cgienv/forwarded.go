package cgienv

import (
	"net/http"
	"net/netip"
	"strings"
)

// forwarded is what a trusted reverse proxy says about the original
// request. Empty fields mean "as the connection says".
type forwarded struct {
	remoteAddr string // REMOTE_ADDR
	scheme     string // "http" or "https"
	host       string // SERVER_NAME, as in a Host header (IPv6 in brackets)
	port       string // SERVER_PORT
}

// forwardedFor reads the X-Forwarded-* headers of r when its immediate
// peer is a trusted proxy, and reports whether it is. The rules, which the
// package documentation repeats for users:
//
//   - X-Forwarded-For is read from the right, its repeated header lines
//     joined in order: each trusted address is skipped, and the first
//     untrusted one is the client. When every entry is trusted, the
//     left-most one is. An entry that is not an IP address (with or
//     without a port) ends the walk, and the last address accepted (the
//     peer's, if none) is used: whatever lies to the left of it was not
//     written by a proxy we trust.
//   - X-Forwarded-Proto, -Host and -Port are read at the same position
//     from the right as the X-Forwarded-For entry chosen, so each value
//     is the one written by the same hop; when the header has fewer
//     entries (a proxy that overwrites it), its left-most entry is used;
//     without X-Forwarded-For, its right-most one. A value that is not
//     "http" or "https", a host name, or a port is ignored.
func (st *handlerState) forwardedFor(r *http.Request, peer string) (fw forwarded, ok bool) {
	if len(st.trusted) == 0 {
		return fw, false
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !st.isTrusted(addr) {
		return fw, false
	}

	hop := -1 // position from the right of the chosen entry; -1: the peer
	if xff := splitList(r.Header["X-Forwarded-For"]); len(xff) > 0 {
		for i := len(xff) - 1; i >= 0; i-- {
			a, ok := parseForwardedAddr(xff[i])
			if !ok {
				break
			}
			fw.remoteAddr, hop = a.String(), len(xff)-1-i
			if !st.isTrusted(a) {
				break
			}
		}
	}
	pick := func(name string) string {
		vv := splitList(r.Header[name])
		if len(vv) == 0 {
			return ""
		}
		i := len(vv) - 1 - max(hop, 0)
		return vv[max(i, 0)]
	}
	switch v := pick("X-Forwarded-Proto"); {
	case strings.EqualFold(v, "https"):
		fw.scheme = "https"
	case strings.EqualFold(v, "http"):
		fw.scheme = "http"
	}
	if host, port, ok := parseForwardedHost(pick("X-Forwarded-Host")); ok {
		fw.host, fw.port = host, port
	}
	if port := pick("X-Forwarded-Port"); validPort(port) {
		fw.port = port
	}
	return fw, true
}

// isTrusted reports whether a is in one of the trusted networks.
func (st *handlerState) isTrusted(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range st.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) into
// the IPv4 prefix it means, since addresses are unmapped before matching.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// splitList splits the comma-separated values of a repeated header into
// entries, in order, with surrounding white space removed.
func splitList(vv []string) []string {
	var out []string
	for _, v := range vv {
		for e := range strings.SplitSeq(v, ",") {
			out = append(out, strings.TrimSpace(e))
		}
	}
	return out
}

// parseForwardedAddr parses an X-Forwarded-For entry: an IP address,
// optionally with a port ("1.2.3.4:5", "[2001:db8::1]:5"). The address is
// returned unmapped and without a zone, so its String is safe to pass on.
func parseForwardedAddr(e string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(e); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]") {
		if a, err := netip.ParseAddr(e[1 : len(e)-1]); err == nil && a.Is6() {
			return a.Unmap().WithZone(""), true
		}
		return netip.Addr{}, false
	}
	if ap, err := netip.ParseAddrPort(e); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// parseForwardedHost splits an X-Forwarded-Host value into a host and an
// optional port, accepting only what a Host header may hold: a DNS name
// (letters, digits, '-', '.', '_'), an IPv4 address or an IPv6 address in
// brackets.
func parseForwardedHost(v string) (host, port string, ok bool) {
	if v == "" {
		return "", "", false
	}
	host, port = splitHost(v)
	if port != "" && !validPort(port) || v != host && (port == "" || v != host+":"+port) {
		return "", "", false
	}
	if strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(host[1:], "]"))
		if err != nil || !a.Is6() || a.Zone() != "" || !strings.HasSuffix(host, "]") {
			return "", "", false
		}
		return host, port, true
	}
	if host == "" || len(host) > 253 {
		return "", "", false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", "", false
		}
	}
	return host, port, true
}

// validPort reports whether s is a TCP port number, 1 to 65535, in
// decimal without sign or leading zeros.
func validPort(s string) bool {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
}
