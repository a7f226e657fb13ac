package cgienv

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
)

// Errors of response parsing. Each is wrapped with the offending line.
var (
	// ErrMalformedHeader means a header line has no ':', an invalid name
	// or a control character in its value: 500, Apache's "malformed
	// header from script".
	ErrMalformedHeader = errors.New("cgienv: malformed header from script")
	// ErrNoHeaderEnd means the output ended before the blank line that
	// ends the headers: 500, Apache's "end of script output before
	// headers".
	ErrNoHeaderEnd = errors.New("cgienv: end of script output before headers")
	// ErrHeaderTooLong means a header line is longer than Apache accepts
	// (maxHeaderLine): 500.
	ErrHeaderTooLong = errors.New("cgienv: script header line too long")
	// ErrTooManyHeaders means the script sent more than maxHeaderLines
	// header lines: 500. Apache has no such limit; a script that sends
	// that many is broken or echoing input it should not.
	ErrTooManyHeaders = errors.New("cgienv: too many header lines from script")
)

// maxHeaderLine is the longest header line Apache 2.4 reads from a script,
// CRs not counted: its 8192-byte buffer holds at most 8190 bytes before
// the LF, and a line that fills it is an error. Measured with Apache
// 2.4.71: 8189 bytes pass, 8190 fail.
const maxHeaderLine = 8189

// maxHeaderLines is the most header lines a script may send (Status,
// Content-Type and repeated lines included). With maxHeaderLine it bounds
// a response's header at about 2 MiB, and it keeps a script from turning
// each line of untrusted input into a response header.
const maxHeaderLines = 256

// Response is a parsed CGI response (RFC 3875 section 6).
type Response struct {
	// Status is the response status: 200 unless a Status header set
	// another. A Status header that is not a code Go can send (below 200
	// or above 999) gives 500, as Apache answers an unparsable one.
	Status int
	// Reason is the reason phrase to send: the script's own one when its
	// Status line had one, otherwise http.StatusText(Status) (empty for
	// codes Go does not know).
	Reason string
	// StatusLine is the value of the script's Status header, if any.
	StatusLine string
	// InvalidStatus reports that StatusLine was not a valid final HTTP
	// status (outside 200-599). The handler logs it.
	InvalidStatus bool
	// ContentType is the script's Content-Type with the media type
	// lower-cased and trailing white space removed, as Apache stores it.
	// HasContentType tells an absent header from an empty one (an empty
	// one means no Content-Type at all).
	ContentType    string
	HasContentType bool
	// Header holds every other header under its canonical name,
	// including Location. Repeated headers are merged into one value
	// joined by ", ", except Set-Cookie, which keeps one value per line.
	// Status, Content-Type and Content-Length (ignored, the body is
	// measured) are not in it.
	Header http.Header
	// Body is the output after the blank line. It aliases the input.
	Body []byte
}

// ParseResponse parses a script's standard output the way Apache 2.4's
// ap_scan_script_header_err does: header lines end with LF or CRLF (every
// CR in a header line is dropped, and a NUL ends it, as Apache's reader
// does); leading white space of a value is removed; a line without ':'
// or with an invalid name or value is an error; so is output that ends
// before the blank line, and more than 256 header lines. ParseResponse
// never panics, whatever the input.
func ParseResponse(out []byte) (*Response, error) {
	resp := &Response{Status: http.StatusOK}
	hasStatus := false
	// The header lines are cut from one string of the whole header block,
	// and the header values share one backing array: a few allocations per
	// response instead of two or three per line. Without a blank line
	// (output that is still arriving, or broken) each line is copied
	// alone, so that a large body is never copied.
	var block string
	end, nlines := headerEnd(out)
	if end >= 0 {
		block = string(out[:end])
	}
	var vals []string
	for pos, lines := 0, 0; ; lines++ {
		nl := bytes.IndexByte(out[pos:], '\n')
		if nl < 0 {
			return nil, ErrNoHeaderEnd
		}
		raw := out[pos : pos+nl]
		var line string
		if pos+nl <= len(block) && bytes.IndexByte(raw[:max(nl-1, 0)], '\r') < 0 {
			line = block[pos : pos+len(dropCR(raw))]
		} else {
			line = string(dropCR(raw))
		}
		pos += nl + 1
		if len(line) > maxHeaderLine {
			return nil, fmt.Errorf("%w: %d bytes: %.40q...", ErrHeaderTooLong, len(line), line)
		}
		if i := strings.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		if line == "" {
			resp.Body = out[pos:]
			break
		}
		if lines == maxHeaderLines {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyHeaders, maxHeaderLines)
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 {
			return nil, fmt.Errorf("%w: no colon: %.80q", ErrMalformedHeader, line)
		}
		name := line[:colon]
		if !validHeaderName(name) {
			return nil, fmt.Errorf("%w: invalid header name %.80q", ErrMalformedHeader, name)
		}
		value := strings.TrimLeft(line[colon+1:], " \t\v\f")
		if !validHeaderValue(value) {
			return nil, fmt.Errorf("%w: invalid characters in %s: %.80q", ErrMalformedHeader, name, value)
		}
		switch {
		case strings.EqualFold(name, "Content-Type"):
			resp.ContentType = normalizeContentType(value)
			resp.HasContentType = true
		case strings.EqualFold(name, "Status"):
			resp.StatusLine, hasStatus = value, true
		case strings.EqualFold(name, "Content-Length"):
			// Ignored: the server measures the body (Apache since the
			// April 2024 response-splitting hardening).
		case strings.EqualFold(name, "Transfer-Encoding"):
			// Dropped, and the body sent as the script wrote it: what
			// Apache 2.4.71 does (measured by the differential test).
			// The server frames the body itself, so nothing the script
			// says can split the response.
		default:
			key := textproto.CanonicalMIMEHeaderKey(name)
			if resp.Header == nil {
				resp.Header = make(http.Header, 4)
			}
			if vals == nil {
				vals = make([]string, 0, max(nlines-lines, 1))
			}
			switch prev := resp.Header[key]; {
			case key == "Location":
				resp.Header[key] = oneValue(&vals, value) // the last one wins
			case len(prev) == 0:
				resp.Header[key] = oneValue(&vals, value)
			case key == "Set-Cookie":
				resp.Header[key] = append(prev, value)
			default:
				prev[0] += ", " + value
			}
		}
	}
	if hasStatus {
		resp.Status, resp.Reason, resp.InvalidStatus = parseStatus(resp.StatusLine)
	} else {
		resp.Reason = http.StatusText(resp.Status)
	}
	return resp, nil
}

// HasHeaderBlock reports whether out holds the whole header block of a
// CGI response: the blank line that ends it, found as ParseResponse finds
// it (lines end with LF, CRs are dropped, a NUL ends a line, and at most
// 256 header lines come before it). Without it ParseResponse fails; with
// it ParseResponse never reports ErrNoHeaderEnd, though it may still
// refuse a line of the block.
func HasHeaderBlock(out []byte) bool {
	end, _ := headerEnd(out)
	return end >= 0
}

// headerEnd returns the offset in out of the blank line that ends its
// header block, as ParseResponse reads lines, and how many header lines
// come before it; -1 when out has no complete header block within
// maxHeaderLines+1 lines.
func headerEnd(out []byte) (end, nlines int) {
	for pos, lines := 0, 0; lines <= maxHeaderLines; lines++ {
		nl := bytes.IndexByte(out[pos:], '\n')
		if nl < 0 {
			return -1, 0
		}
		if blankLine(out[pos : pos+nl]) {
			return pos, lines
		}
		pos += nl + 1
	}
	return -1, 0
}

// blankLine reports whether a header line is empty once its CRs are
// dropped and it is cut at its first NUL, as ParseResponse reads it.
func blankLine(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case '\r':
		case 0:
			return true
		default:
			return false
		}
	}
	return true
}

// oneValue appends v to *vals and returns it as a one-element slice of
// its own (capacity 1, so that appending to it copies).
func oneValue(vals *[]string, v string) []string {
	n := len(*vals)
	*vals = append(*vals, v)
	return (*vals)[n : n+1 : n+1]
}

// parseStatus interprets a Status header value like Apache: the code is
// atoi(value), and the rest after "NNN " is the reason phrase (trailing
// white space removed). Codes Go cannot send become 500.
func parseStatus(v string) (code int, reason string, invalid bool) {
	code = atoi(v)
	invalid = code < 200 || code > 599
	if code < 200 || code > 999 {
		return http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError), invalid
	}
	if len(v) >= 4 && v[3] == ' ' && isDigit(v[0]) && isDigit(v[1]) && isDigit(v[2]) && atoi(v[:3]) == code {
		return code, strings.TrimRight(v[4:], " \t"), invalid
	}
	return code, http.StatusText(code), invalid
}

// atoi is C's atoi for the values a Status header can hold: optional
// sign, then digits; anything else stops it. Values that do not fit in
// four digits are clamped, as no status has more.
func atoi(s string) int {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		if n < 10000 {
			n = n*10 + int(s[i]-'0')
		}
	}
	if neg {
		return -n
	}
	return n
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// dropCR removes every CR from a header line, as Apache's reader does.
// The common cases (no CR, or only a final one) do not copy.
func dropCR(b []byte) []byte {
	i := bytes.IndexByte(b, '\r')
	if i < 0 {
		return b
	}
	if i == len(b)-1 {
		return b[:i]
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c != '\r' {
			out = append(out, c)
		}
	}
	return out
}

// validHeaderName reports whether s is an RFC 9110 token; Apache refuses
// any other response header name with a 500.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validHeaderValue reports whether s holds only visible characters, space,
// tab and obs-text, the check Apache applies before sending a header.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// normalizeContentType lower-cases the media type before any parameters
// and drops trailing white space, as Apache's ap_content_type_tolower.
func normalizeContentType(v string) string {
	v = strings.TrimRight(v, " \t\v\f")
	end := strings.IndexByte(v, ';')
	if end < 0 {
		end = len(v)
	}
	for i := 0; i < end; i++ {
		if 'A' <= v[i] && v[i] <= 'Z' {
			return strings.ToLower(v[:end]) + v[end:]
		}
	}
	return v
}
