package cgienv

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseResponse(t *testing.T) {
	long := func(n int, eol string) string {
		return "Content-Type: text/plain" + eol + "X: " + strings.Repeat("a", n-3) + eol + eol + "body"
	}
	tests := []struct {
		name    string
		in      string
		wantErr error
		status  int
		reason  string
		invalid bool
		ct      string
		hasCT   bool
		header  http.Header // nil means no header at all
		body    string
	}{
		{name: "lf", in: "Content-Type: text/plain\n\nhello", status: 200, reason: "OK", ct: "text/plain", hasCT: true, body: "hello"},
		{name: "crlf", in: "Content-Type: text/plain\r\n\r\nhello", status: 200, reason: "OK", ct: "text/plain", hasCT: true, body: "hello"},
		{name: "mixed line ends", in: "Content-Type: text/plain\r\nX-A: 1\n\r\nbody", status: 200, reason: "OK",
			ct: "text/plain", hasCT: true, header: http.Header{"X-A": {"1"}}, body: "body"},
		{name: "body keeps its bytes", in: "Content-Type: a/b\n\n\r\n\r\nx\x00y\n", status: 200, reason: "OK",
			ct: "a/b", hasCT: true, body: "\r\n\r\nx\x00y\n"},
		{name: "empty body", in: "Content-Type: text/plain\n\n", status: 200, reason: "OK", ct: "text/plain", hasCT: true},
		{name: "status with reason", in: "Status: 418 I'm a teapot\r\nContent-Type: text/plain\r\n\r\nshort", status: 418,
			reason: "I'm a teapot", ct: "text/plain", hasCT: true, body: "short"},
		{name: "custom reason", in: "Status: 200 Fine Thanks\n\n", status: 200, reason: "Fine Thanks"},
		{name: "status without reason", in: "Status: 404\n\nnf", status: 404, reason: "Not Found", body: "nf"},
		{name: "status with empty reason", in: "Status: 404 \n\n", status: 404, reason: ""},
		{name: "unknown status", in: "Status: 299\n\n", status: 299, reason: ""},
		{name: "status glued to text", in: "Status: 404x\n\n", status: 404, reason: "Not Found"},
		{name: "status tab is not a separator", in: "Status: 404\tTab Reason\n\n", status: 404, reason: "Not Found"},
		{name: "reason trailing space trimmed", in: "Status: 500 Oops  \n\n", status: 500, reason: "Oops"},
		{name: "last status wins", in: "Status: 404 A\nStatus: 403 B\n\n", status: 403, reason: "B"},
		{name: "status not a number", in: "Status: abc\nContent-Type: text/plain\n\nok", status: 500,
			reason: "Internal Server Error", invalid: true, ct: "text/plain", hasCT: true, body: "ok"},
		{name: "status informational", in: "Status: 100\n\n", status: 500, reason: "Internal Server Error", invalid: true},
		{name: "status negative", in: "Status: -200\n\n", status: 500, reason: "Internal Server Error", invalid: true},
		{name: "status empty", in: "Status:\n\n", status: 500, reason: "Internal Server Error", invalid: true},
		{name: "status huge", in: "Status: 99999999999999999999\n\n", status: 500, reason: "Internal Server Error", invalid: true},
		{name: "status above 599 is sent", in: "Status: 999 Odd\n\n", status: 999, reason: "Odd", invalid: true},
		{name: "content type normalised", in: "Content-Type: Text/HTML; Charset=UTF-8  \n\n", status: 200, reason: "OK",
			ct: "text/html; Charset=UTF-8", hasCT: true},
		{name: "empty content type", in: "Content-Type:\n\nbody", status: 200, reason: "OK", ct: "", hasCT: true, body: "body"},
		{name: "no content type", in: "X-A: 1\n\nbody", status: 200, reason: "OK", header: http.Header{"X-A": {"1"}}, body: "body"},
		{name: "last content type wins", in: "Content-Type: text/plain\nContent-Type: text/html\n\n", status: 200, reason: "OK",
			ct: "text/html", hasCT: true},
		{name: "transfer encoding dropped, body as written", in: "Content-Type: text/plain\nTransfer-Encoding: chunked\n\n3\r\nabc\r\n0\r\n\r\n",
			status: 200, reason: "OK", ct: "text/plain", hasCT: true, body: "3\r\nabc\r\n0\r\n\r\n"},
		{name: "content length ignored", in: "Content-Type: text/plain\nContent-Length: 3\n\n12345678", status: 200,
			reason: "OK", ct: "text/plain", hasCT: true, body: "12345678"},
		{name: "duplicates merged", in: "X-Foo: bar\nx-foo: baz\nWWW-Authenticate: Basic realm=x\nWWW-Authenticate: Bearer\n\n",
			status: 200, reason: "OK", header: http.Header{"X-Foo": {"bar, baz"}, "Www-Authenticate": {"Basic realm=x, Bearer"}}},
		{name: "cookies kept apart", in: "Set-Cookie: a=1\nset-cookie: b=2\n\n", status: 200, reason: "OK",
			header: http.Header{"Set-Cookie": {"a=1", "b=2"}}},
		{name: "last location wins", in: "Location: /a\nLocation: http://x/\n\n", status: 200, reason: "OK",
			header: http.Header{"Location": {"http://x/"}}},
		{name: "leading white space trimmed, trailing kept", in: "X-Sp:    lead and trail   \nX-Empty:\nX-Tab:\tt\n\n",
			status: 200, reason: "OK", header: http.Header{"X-Sp": {"lead and trail   "}, "X-Empty": {""}, "X-Tab": {"t"}}},
		{name: "cr inside a line dropped", in: "X-Cr: a\r\rb\r\r\nX-\rName: v\n\n", status: 200, reason: "OK",
			header: http.Header{"X-Cr": {"ab"}, "X-Name": {"v"}}},
		{name: "nul ends a line", in: "X-Nul: a\x00b\n\n", status: 200, reason: "OK", header: http.Header{"X-Nul": {"a"}}},
		{name: "nul at line start ends headers", in: "X-A: 1\n\x00junk\nbody", status: 200, reason: "OK",
			header: http.Header{"X-A": {"1"}}, body: "body"},
		{name: "obs-text allowed", in: "X-Hi: \xc3\xa9\n\n", status: 200, reason: "OK", header: http.Header{"X-Hi": {"\xc3\xa9"}}},
		{name: "longest header line", in: long(maxHeaderLine, "\n"), status: 200, reason: "OK", ct: "text/plain", hasCT: true,
			header: http.Header{"X": {strings.Repeat("a", maxHeaderLine-3)}}, body: "body"},
		{name: "longest header line crlf", in: long(maxHeaderLine, "\r\n"), status: 200, reason: "OK", ct: "text/plain", hasCT: true,
			header: http.Header{"X": {strings.Repeat("a", maxHeaderLine-3)}}, body: "body"},

		{name: "header line too long", in: long(maxHeaderLine+1, "\n"), wantErr: ErrHeaderTooLong},
		// Apache 2.4.71 measured: a header line of 8190 bytes (LF and CRs
		// not counted) is refused, 8189 bytes pass.
		{name: "apache refuses 8190 bytes", in: long(8190, "\r\n"), wantErr: ErrHeaderTooLong},
		{name: "apache accepts 8189 bytes", in: long(8189, "\r\n"), status: 200, reason: "OK", ct: "text/plain", hasCT: true,
			header: http.Header{"X": {strings.Repeat("a", 8186)}}, body: "body"},
		{name: "no colon", in: "Content-Type: text/plain\nbogus line\n\nbody", wantErr: ErrMalformedHeader},
		{name: "continuation line", in: "X-A: 1\n  continued\n\n", wantErr: ErrMalformedHeader},
		{name: "empty name", in: ": novalue\n\n", wantErr: ErrMalformedHeader},
		{name: "space before colon", in: "Content-Type : text/plain\n\n", wantErr: ErrMalformedHeader},
		{name: "space in name", in: "X Bad: 1\n\n", wantErr: ErrMalformedHeader},
		{name: "control character in value", in: "X-Ctl: c\x01d\n\n", wantErr: ErrMalformedHeader},
		{name: "delete in value", in: "X-Ctl: c\x7fd\n\n", wantErr: ErrMalformedHeader},
		{name: "eof before blank line", in: "Content-Type: text/plain\n", wantErr: ErrNoHeaderEnd},
		{name: "eof in a line", in: "Content-Type: text/plain", wantErr: ErrNoHeaderEnd},
		{name: "empty output", in: "", wantErr: ErrNoHeaderEnd},
		{name: "cr only line ends", in: "Content-Type: text/plain\r\rbody", wantErr: ErrNoHeaderEnd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := ParseResponse([]byte(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseResponse(%.60q) error = %v; want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResponse(%.60q): %v", tt.in, err)
			}
			if resp.Status != tt.status || resp.Reason != tt.reason || resp.InvalidStatus != tt.invalid {
				t.Errorf("status = %d %q (invalid %v); want %d %q (invalid %v)",
					resp.Status, resp.Reason, resp.InvalidStatus, tt.status, tt.reason, tt.invalid)
			}
			if resp.ContentType != tt.ct || resp.HasContentType != tt.hasCT {
				t.Errorf("content type = %q (%v); want %q (%v)", resp.ContentType, resp.HasContentType, tt.ct, tt.hasCT)
			}
			if len(resp.Header) != 0 || len(tt.header) != 0 {
				if !reflect.DeepEqual(resp.Header, tt.header) {
					t.Errorf("header = %q; want %q", resp.Header, tt.header)
				}
			}
			if string(resp.Body) != tt.body {
				t.Errorf("body = %q; want %q", resp.Body, tt.body)
			}
		})
	}
}

// TestHasHeaderBlock: HasHeaderBlock finds the end of the header block
// where ParseResponse does. The rows marked "procpool" are where the
// process backend's former copy (an empty or "\r" line ends the block, no
// line limit) disagreed; ParseResponse is the truth.
func TestHasHeaderBlock(t *testing.T) {
	lines := func(n int) string { return strings.Repeat("X-A: 1\n", n) }
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", false},
		{"LF blank line only", "\n", true},
		{"CRLF blank line only", "\r\n", true},
		{"LF", "Content-Type: text/plain\n\nbody", true},
		{"CRLF", "Content-Type: text/plain\r\n\r\nbody", true},
		{"CRLF header, LF blank line", "Content-Type: text/plain\r\n\nbody", true},
		{"LF header, CRLF blank line", "Content-Type: text/plain\n\r\nbody", true},
		{"no blank line yet", "Content-Type: text/plain\n", false},
		{"blank line without its LF", "Content-Type: text/plain\n\r", false},
		{"CR-only line endings", "Content-Type: text/plain\r\rbody\r", false},
		{"CR-only line endings, then LF", "Content-Type: text/plain\r\rbody\n", false},
		{"procpool: blank line of two CRs", "Content-Type: text/plain\r\n\r\r\nbody", true},
		{"procpool: NUL line", "Content-Type: text/plain\n\x00\nbody", true},
		{"procpool: line cut to nothing at a NUL", "Content-Type: text/plain\n\x00junk\nbody", true},
		{"procpool: CR then NUL", "Content-Type: text/plain\n\r\x00\nbody", true},
		{"NUL inside a header line", "X-A: a\x00b\n\nbody", true},
		{"white space is not blank", "Content-Type: text/plain\n \n", false},
		{"256 header lines", lines(maxHeaderLines) + "\nbody", true},
		{"256 header lines, CRLF", strings.Repeat("X-A: 1\r\n", maxHeaderLines) + "\r\nbody", true},
		{"procpool: 257 header lines", lines(maxHeaderLines+1) + "\nbody", false},
		{"256 header lines, no blank line", lines(maxHeaderLines), false},
		{"a line too long is still a block", "X: " + strings.Repeat("a", maxHeaderLine) + "\n\n", true},
		{"malformed line is still a block", "bogus\n\nbody", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			if got := HasHeaderBlock(in); got != tt.want {
				t.Errorf("HasHeaderBlock(%.60q) = %v, want %v", tt.in, got, tt.want)
			}
			_, err := ParseResponse(in)
			if tt.want && errors.Is(err, ErrNoHeaderEnd) || !tt.want && err == nil {
				t.Errorf("ParseResponse(%.60q): %v; HasHeaderBlock should be %v", tt.in, err, !tt.want)
			}
		})
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, seed := range []string{
		"Content-Type: text/plain\n\nhello",
		"Status: 418 I'm a teapot\r\nContent-Type: text/plain\r\n\r\nbody",
		"Location: /cgi-bin/x?y\n\n",
		"Location: http://example.com/\nSet-Cookie: a=1\nSet-Cookie: b=2\n\n",
		"X-A: 1\nX-A: 2\n\n",
		"Status: abc\n\n",
		"Status: 99999999999999999999999\n\n",
		"bogus\n\n",
		"X-Cr: a\r\rb\n\x00\n",
		"Transfer-Encoding: chunked\n\n",
		"Content-Type: Text/HTML;\tcharset=X \n\n",
		"",
		"\n",
		"\r\n",
		"X: " + strings.Repeat("a", maxHeaderLine) + "\n\n",
		strings.Repeat("X: 1\n", maxHeaderLines) + "\nbody",
		strings.Repeat("X: 1\r\n", maxHeaderLines+1) + "\r\n",
		"X-A: a\rSet-Cookie: evil=1\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		resp, err := ParseResponse(in)
		if has := HasHeaderBlock(in); has && errors.Is(err, ErrNoHeaderEnd) || !has && err == nil {
			t.Fatalf("HasHeaderBlock = %v, but ParseResponse: %v", has, err)
		}
		if err != nil {
			if resp != nil {
				t.Fatalf("ParseResponse returned both %+v and %v", resp, err)
			}
			return
		}
		if resp.Status < 200 || resp.Status > 999 {
			t.Fatalf("status %d cannot be sent", resp.Status)
		}
		if !bytes.HasSuffix(in, resp.Body) {
			t.Fatalf("body %q is not the end of the input", resp.Body)
		}
		check := func(what, s string) {
			if strings.ContainsAny(s, "\r\n\x00") {
				t.Fatalf("%s %q holds CR, LF or NUL", what, s)
			}
		}
		check("reason", resp.Reason)
		check("content type", resp.ContentType)
		for k, vv := range resp.Header {
			if !validHeaderName(k) {
				t.Fatalf("invalid header name %q", k)
			}
			for _, v := range vv {
				check(k, v)
			}
		}
	})
}

func BenchmarkParseResponse(b *testing.B) {
	out := []byte("Status: 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nSet-Cookie: session=0123456789abcdef; Path=/\r\n" +
		"Cache-Control: no-cache\r\n\r\n<html><body>" + strings.Repeat("hello world ", 100) + "</body></html>\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResponse(out); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseResponseHeaderCount(t *testing.T) {
	headers := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString("Content-Type: text/plain\r\n")
		for i := 1; i < n; i++ {
			b.WriteString("X-Echo: line\r\n")
		}
		b.WriteString("\r\nbody")
		return b.Bytes()
	}
	resp, err := ParseResponse(headers(maxHeaderLines))
	if err != nil || string(resp.Body) != "body" {
		t.Fatalf("%d header lines: %v; want them accepted", maxHeaderLines, err)
	}
	if _, err := ParseResponse(headers(maxHeaderLines + 1)); !errors.Is(err, ErrTooManyHeaders) {
		t.Errorf("%d header lines: %v; want ErrTooManyHeaders", maxHeaderLines+1, err)
	}
}

// TestParseResponseInjection: nothing a script writes in a header line
// becomes a second header or a second response.
func TestParseResponseInjection(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		wantErr  bool
	}{
		{name: "bare CR", in: "Content-Type: text/plain\nX-A: a\rSet-Cookie: evil=1\n\nbody"},
		{name: "CR CR LF", in: "Content-Type: text/plain\nX-A: a\r\r\nSet-Cookie: ok=1\n\nbody"},
		{name: "CR in Status", in: "Status: 200 OK\rX-Evil: 1\nContent-Type: text/plain\n\nbody"},
		{name: "CR in Location", in: "Location: http://example.com/\r\rSet-Cookie: evil=1\n\n"},
		{name: "NUL ends the line", in: "Content-Type: text/plain\nX-A: a\x00Set-Cookie: evil=1\r\n\nbody"},
		{name: "vertical tab", in: "Content-Type: text/plain\nX-A: a\vSet-Cookie: evil=1\n\nbody", wantErr: true},
		{name: "form feed", in: "Content-Type: text/plain\nX-A: a\fb\n\nbody", wantErr: true},
		{name: "DEL", in: "Content-Type: text/plain\nX-A: a\x7fb\n\nbody", wantErr: true},
		{name: "space in name", in: "Content-Type: text/plain\nSet-Cookie : evil=1\n\nbody", wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := ParseResponse([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformedHeader) {
					t.Errorf("ParseResponse(%q) = %+v, %v; want ErrMalformedHeader", tt.in, resp, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResponse(%q): %v", tt.in, err)
			}
			for k, vv := range resp.Header {
				for _, v := range vv {
					if strings.ContainsAny(k+v+resp.Reason, "\r\n\x00") {
						t.Errorf("header %s: %q holds CR, LF or NUL", k, v)
					}
				}
			}
			if c := resp.Header["Set-Cookie"]; len(c) > 0 && strings.Contains(c[0], "evil") {
				t.Errorf("Set-Cookie %q was injected", c)
			}
			if _, ok := resp.Header["X-Evil"]; ok {
				t.Error("X-Evil was injected")
			}
		})
	}
}
