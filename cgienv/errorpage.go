package cgienv

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// resolveFailed answers a request whose path did not resolve to a script.
func resolveFailed(ctx context.Context, st *handlerState, w http.ResponseWriter, r *http.Request, err error, carry http.Header) int {
	status, level, msg := http.StatusInternalServerError, slog.LevelError, "cannot resolve script"
	switch {
	case errors.Is(err, ErrBadPath):
		status, level, msg = http.StatusBadRequest, slog.LevelInfo, "invalid request path"
	case errors.Is(err, ErrNotFound):
		status, level, msg = http.StatusNotFound, slog.LevelInfo, "script not found"
	case errors.Is(err, ErrForbidden):
		status, level, msg = http.StatusForbidden, slog.LevelInfo, "attempt to invoke directory as script"
	case errors.Is(err, ErrNotExecutable):
		msg = "script not executable" // Apache: "Permission denied: exec of ... failed"
	case errors.Is(err, ErrWritable):
		msg = "script or directory writable by others" // suexec: "directory is writable by others"
	}
	st.logger.LogAttrs(ctx, level, msg, slog.String(keyPath, r.URL.Path), slog.String(keyErr, err.Error()))
	return st.writeError(w, r, status, carry)
}

// runFailed answers a request the Runner could not run.
func runFailed(ctx context.Context, st *handlerState, w http.ResponseWriter, r *http.Request, script string, err error, carry http.Header) int {
	attrs := []slog.Attr{slog.String(keyScript, script), slog.String(keyErr, err.Error())}
	switch {
	case errors.Is(err, ErrOverloaded):
		st.logger.LogAttrs(ctx, slog.LevelWarn, "no capacity for request", attrs...)
		return st.writeError(w, r, http.StatusServiceUnavailable, carry)
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		// The client went away: there is no one to answer.
		st.logger.LogAttrs(ctx, slog.LevelInfo, "request canceled", attrs...)
		return statusClientGone
	case errors.Is(err, context.DeadlineExceeded):
		st.logger.LogAttrs(ctx, slog.LevelError, "script timed out", attrs...)
		return st.writeError(w, r, http.StatusGatewayTimeout, carry)
	default:
		st.logger.LogAttrs(ctx, slog.LevelError, "cannot run script", attrs...)
		return st.writeError(w, r, http.StatusInternalServerError, carry)
	}
}

// logOutcome logs a response the handler rejects and a script that failed
// or exited with a non-zero status.
func logOutcome(ctx context.Context, l *slog.Logger, script string, out *Output, parseErr error) {
	attrs := []slog.Attr{slog.String(keyScript, script), slog.Int(keyExitCode, out.ExitCode)}
	if out.Failure != "" {
		attrs = append(attrs, slog.String(keyErr, out.Failure))
	}
	switch {
	case parseErr != nil:
		msg := "malformed header from script"
		switch {
		case errors.Is(parseErr, ErrNoHeaderEnd):
			msg = "end of script output before headers"
		case errors.Is(parseErr, ErrHeaderTooLong):
			msg = "script header line too long"
		case errors.Is(parseErr, ErrTooManyHeaders):
			msg = "too many header lines from script"
		}
		if out.Failure == "" {
			attrs = append(attrs, slog.String(keyErr, parseErr.Error()))
		}
		l.LogAttrs(ctx, slog.LevelError, msg, attrs...)
	case out.Failure != "":
		l.LogAttrs(ctx, slog.LevelWarn, "script failed", attrs...)
	case out.ExitCode != 0:
		l.LogAttrs(ctx, slog.LevelWarn, "script exited with non-zero status", attrs...)
	}
}

const htmlType = "text/html; charset=iso-8859-1"

// errorTexts are the explanations of Apache 2.4's canned error pages
// (get_canned_error_string); 413 and 500 are built in page.
var errorTexts = map[int]string{
	http.StatusBadRequest:         "<p>Your browser sent a request that this server could not understand.<br />\n</p>\n",
	http.StatusForbidden:          "<p>You don't have permission to access this resource.</p>\n",
	http.StatusRequestURITooLong:  "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>\n",
	http.StatusNotFound:           "<p>The requested URL was not found on this server.</p>\n",
	http.StatusBadGateway:         "<p>The proxy server received an invalid\r\nresponse from an upstream server.<br />\r\n</p>\n",
	http.StatusServiceUnavailable: "<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n",
	http.StatusGatewayTimeout:     "<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n",
}

// writeError sends an error page like Apache's, with the headers of
// scripts that redirected internally, as Apache keeps them.
func (st *handlerState) writeError(w http.ResponseWriter, r *http.Request, status int, carry http.Header) int {
	hdr := w.Header()
	mergeInto(hdr, carry, "")
	var text string
	switch status {
	case http.StatusRequestEntityTooLarge:
		text = "The requested resource does not allow request data with " + escapeHTML(r.Method) +
			" requests, or the amount of data provided in\nthe request exceeds the capacity limit.\n"
	case http.StatusInternalServerError:
		text = "<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\n" +
			"your request.</p>\n<p>Please contact the server administrator at \n " + escapeHTML(st.admin) +
			" to inform them of the time this error occurred,\n and the actions you performed just before this error.</p>\n" +
			"<p>More information about this error may be available\nin the server error log.</p>\n"
	default:
		text = errorTexts[status]
	}
	body := st.page(status, text)
	hdr.Set("Content-Type", htmlType)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	if status == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
	return status
}

// page wraps text in Apache's page for a status, with the server signature
// after a rule when there is one.
func (st *handlerState) page(status int, text string) string {
	title := http.StatusText(status)
	sig := ""
	if st.signature != "" {
		sig = "<hr>\n" + st.signature
	}
	return "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n" +
		"<html><head>\n<title>" + strconv.Itoa(status) + " " + title + "</title>\n</head><body>\n<h1>" +
		title + "</h1>\n" + text + sig + "</body></html>\n"
}

// escapeHTML escapes what Apache's ap_escape_html escapes.
var escapeHTML = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace

// WriteError answers r with the Handler's error page for status, Apache's
// page as for a script that is not found, so that what is served beside
// the scripts (static files) fails with the same pages.
func (h *Handler) WriteError(w http.ResponseWriter, r *http.Request, status int) {
	h.state().writeError(w, r, status, nil)
}
