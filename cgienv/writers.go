package cgienv

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// writeResponse sends a parsed script response.
func (st *handlerState) writeResponse(w http.ResponseWriter, r *http.Request, s *Script, resp *Response, carry http.Header) int {
	hdr := w.Header()
	mergeInto(hdr, carry, "")
	mergeInto(hdr, resp.Header, "")
	status, reason, body := resp.Status, resp.Reason, resp.Body
	ct, hasCT := resp.ContentType, resp.HasContentType
	if loc, ok := resp.Header["Location"]; ok && status == http.StatusOK {
		// A Location that is not a local path, without a Status: a client
		// redirect, sent as Apache sends it, with its own small body
		// instead of the script's (RFC 3875 section 6.2.3).
		status, reason = http.StatusFound, http.StatusText(http.StatusFound)
		body = []byte(st.page(status, `<p>The document has moved <a href="`+escapeHTML(loc[0])+"\">here</a>.</p>\n"))
		ct, hasCT = htmlType, true
	}
	if !hasCT {
		// Apache gives the script file's own MIME type.
		ct = defaultContentType(s.Filename)
	}
	noBody := status == http.StatusNoContent || status == http.StatusNotModified
	if noBody {
		body = nil
		delete(hdr, "Content-Type")
	} else {
		if ct != "" {
			hdr.Set("Content-Type", ct)
		} else {
			hdr["Content-Type"] = nil // keep net/http from sniffing one
		}
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if reason != wireReason(status) && r.ProtoMajor == 1 &&
		writeRaw(w, r, status, reason, body, noBody) {
		return status
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead && !noBody {
		w.Write(body) // a write error means the client left; nothing to do
	}
	return status
}

// wireReason is the reason phrase net/http writes for code.
func wireReason(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "status code " + strconv.Itoa(code)
}

// writeRaw sends a response with a reason phrase net/http cannot send, by
// taking the HTTP/1.x connection over and closing it afterwards. It
// reports false, having written nothing, when the connection cannot be
// taken over.
func writeRaw(w http.ResponseWriter, r *http.Request, status int, reason string, body []byte, noBody bool) bool {
	hdr := w.Header()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	defer conn.Close()
	bw := brw.Writer
	if r.ProtoAtLeast(1, 1) {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	bw.WriteString(strconv.Itoa(status))
	bw.WriteByte(' ')
	bw.WriteString(reason)
	bw.WriteString("\r\n")
	if _, ok := hdr["Date"]; !ok {
		hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	hdr.Set("Connection", "close")
	hdr.Write(bw)
	bw.WriteString("\r\n")
	if r.Method != http.MethodHead && !noBody {
		bw.Write(body)
	}
	bw.Flush() // a write error means the client left; nothing to do
	return true
}

// writeNPH sends the output of a non-parsed-header script unmodified and
// closes the connection, as Apache does (RFC 3875 section 5), even for
// HEAD. Over HTTP/2, where a connection cannot be taken over, the output
// is parsed as an HTTP/1.1 response and relayed.
func (st *handlerState) writeNPH(ctx context.Context, w http.ResponseWriter, r *http.Request, script string, out []byte) int {
	if r.ProtoMajor == 1 {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			defer conn.Close()
			conn.Write(out) // a write error means the client left
			return nphStatus(out)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), r)
	if err != nil {
		st.logger.LogAttrs(ctx, slog.LevelError, "invalid response from nph script",
			slog.String(keyScript, script), slog.String(keyErr, err.Error()))
		return st.writeError(w, r, http.StatusBadGateway, nil)
	}
	defer resp.Body.Close()
	mergeInto(w.Header(), resp.Header, "")
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
	return resp.StatusCode
}

// nphStatus reads the status code of a raw HTTP response, for the log;
// zero if there is none.
func nphStatus(out []byte) int {
	line, _, _ := bytes.Cut(out, []byte("\n"))
	_, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(rest) < 3 {
		return 0
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil {
		return 0
	}
	return code
}

// hopByHop are response headers a script must not send (RFC 3875 section
// 6.3.4): net/http manages the connection itself. Apache passes them on.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// mergeInto adds the headers of src to dst the way Apache merges a
// script's headers into a response: a name already present gets the new
// values appended after ", ", except Set-Cookie, which keeps one line per
// cookie. Hop-by-hop headers and the name skip are left out.
func mergeInto(dst, src http.Header, skip string) {
	for k, vv := range src {
		if k == skip || hopByHop[k] || len(vv) == 0 {
			continue
		}
		prev := dst[k]
		switch {
		case len(prev) == 0:
			dst[k] = append([]string(nil), vv...)
		case k == "Set-Cookie":
			dst[k] = append(prev, vv...)
		default:
			dst[k] = []string{prev[0] + ", " + strings.Join(vv, ", ")}
		}
	}
}

// mergeHeader returns dst with src merged in (see mergeInto), allocating
// dst if needed.
func mergeHeader(dst, src http.Header, skip string) http.Header {
	if dst == nil {
		dst = make(http.Header, len(src))
	}
	mergeInto(dst, src, skip)
	return dst
}

// defaultContentType is the Content-Type Apache sends for a script that
// sent none: the MIME type of the script file itself (mod_mime), which
// for .py is Debian's text/x-python, or nothing for unknown extensions.
func defaultContentType(filename string) string {
	ext := filepath.Ext(filename)
	switch {
	case ext == "":
		return ""
	case strings.EqualFold(ext, ".py"):
		return "text/x-python"
	}
	// Go adds a charset to text types; Apache sends the bare type.
	return strings.TrimSuffix(mime.TypeByExtension(ext), "; charset=utf-8")
}
