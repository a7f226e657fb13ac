package observe

// The access log (--access-log, --access-log-format): one line per
// request, in Apache's Combined Log Format or as a JSON object.

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/warmcgi/warmcgi/cgienv"
)

// AccessLog writes the access log. Each line is formatted into a pooled
// buffer and written with one write call, unbuffered, as Apache does by
// default (BufferedLogs Off): a line is in the file when the request is
// over, and nothing is lost when the process is killed.
type AccessLog struct {
	mu     sync.Mutex // one line at a time, even on a pipe
	w      io.Writer
	close  func() error
	json   bool
	logger *slog.Logger
	failed bool // a write failed; logged once
}

// OpenAccessLog opens the access log dest: "" for none (nil is
// returned), "-" for the server's standard output, or a file, opened
// for appending (created with mode 0640: the log holds clients'
// addresses and query strings). It runs before privileges are dropped,
// as Apache opens its logs as root, and before the server points fd 1
// at /dev/null, so "-" gets a duplicate of the original fd 1.
func OpenAccessLog(dest, format string, stdout io.Writer, logger *slog.Logger) (*AccessLog, error) {
	a := &AccessLog{logger: logger}
	switch format {
	case "combined":
	case "json":
		a.json = true
	default:
		return nil, fmt.Errorf("--access-log-format %q: want combined or json", format)
	}
	switch dest {
	case "":
		return nil, nil
	case "-":
		f, ok := stdout.(*os.File)
		if !ok {
			a.w, a.close = stdout, func() error { return nil }
			return a, nil
		}
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			return nil, fmt.Errorf("--access-log -: %w", err)
		}
		syscall.CloseOnExec(fd) // no child (plain CGI) may inherit it
		out := os.NewFile(uintptr(fd), "access log (standard output)")
		a.w, a.close = out, out.Close
		return a, nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("--access-log: %w", err)
	}
	a.w, a.close = f, f.Close
	return a, nil
}

// Close closes the log's file (not a caller's writer).
func (a *AccessLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.close()
}

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Log writes the line for one request.
func (a *AccessLog) Log(r *http.Request, info *cgienv.RequestInfo) {
	bp := lineBuffers.Get().(*[]byte)
	var b []byte
	if a.json {
		b = appendJSONLine((*bp)[:0], r, info)
	} else {
		b = appendCombinedLine((*bp)[:0], r, info)
	}
	a.mu.Lock()
	_, err := a.w.Write(b)
	if err != nil && !a.failed {
		a.failed = true
		a.logger.Error("access log write failed; further failures are not reported", "err", err)
	}
	a.mu.Unlock()
	if cap(b) <= 64<<10 { // an unusually long line is not kept
		*bp = b
		lineBuffers.Put(bp)
	}
}

// apacheTime is the layout of Apache's %t, without the brackets.
const apacheTime = "02/Jan/2006:15:04:05 -0700"

// appendCombinedLine appends Apache's Combined Log Format line,
//
//	%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"
//
// %h is the client's address as REMOTE_ADDR has it (what mod_remoteip
// gives Apache behind a trusted proxy); %l is always "-" (no identd);
// %u is always "-", as warmcgi authenticates no one; %b is "-" for no
// body bytes. The request line and headers are escaped as Apache's
// ap_escape_logitem escapes them.
func appendCombinedLine(b []byte, r *http.Request, info *cgienv.RequestInfo) []byte {
	b = appendOrDash(b, info.RemoteAddr)
	b = append(b, " - - ["...)
	b = info.Start.AppendFormat(b, apacheTime)
	b = append(b, `] "`...)
	b = appendLogItem(b, r.Method)
	b = append(b, ' ')
	b = appendLogItem(b, r.RequestURI)
	b = append(b, ' ')
	b = appendLogItem(b, r.Proto)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(info.Status), 10)
	b = append(b, ' ')
	if info.Bytes > 0 {
		b = strconv.AppendInt(b, info.Bytes, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, ` "`...)
	b = appendOrDash(b, r.Header.Get("Referer"))
	b = append(b, `" "`...)
	b = appendOrDash(b, r.Header.Get("User-Agent"))
	return append(b, "\"\n"...)
}

func appendOrDash(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendLogItem(b, s)
}

// appendLogItem escapes like Apache's ap_escape_logitem: '"' and '\'
// get a backslash, and every byte that is not printable ASCII becomes
// \xhh (or \n, \t and the like), so a client cannot forge log lines.
func appendLogItem(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= ' ' && c < 0x7f:
			b = append(b, c)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\v':
			b = append(b, `\v`...)
		default:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// appendJSONLine appends the request as one JSON object. It has what the
// combined line has, plus the request id, the script, the host, the
// duration and whether the script timed out.
func appendJSONLine(b []byte, r *http.Request, info *cgienv.RequestInfo) []byte {
	b = append(b, `{"time":"`...)
	b = info.Start.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, `","request_id":`...)
	b = appendJSONString(b, info.ID)
	b = append(b, `,"remote_addr":`...)
	b = appendJSONString(b, info.RemoteAddr)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"uri":`...)
	b = appendJSONString(b, r.RequestURI)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, r.Proto)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, r.Host)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(info.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, info.Bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(info.Duration)/float64(time.Millisecond), 'f', 3, 64)
	b = append(b, `,"script":`...)
	b = appendJSONString(b, info.ScriptName)
	b = append(b, `,"timed_out":`...)
	b = strconv.AppendBool(b, info.TimedOut)
	b = append(b, `,"referer":`...)
	b = appendJSONString(b, r.Header.Get("Referer"))
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, r.Header.Get("User-Agent"))
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < ' ' || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
