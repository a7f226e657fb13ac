package cgienv

import (
	"bytes"
	"context"
	"log/slog"
)

// Attribute keys of every log record the package writes. They are the
// project-wide keys (STYLE.md); keep them here and nowhere else.
const (
	keyScript   = "script"
	keyMethod   = "method"
	keyPath     = "path"
	keyStatus   = "status"
	keyDuration = "duration"
	keyExitCode = "exit_code"
	keyErr      = "err"
	// keyRequestID is added to every record logged with a request's
	// context (idHandler).
	keyRequestID = "request_id"
)

// statusClientGone is logged (never sent) when the client went away before
// a response could be written, after nginx's 499.
const statusClientGone = 499

// logStderr logs what a script wrote to its standard error, one Warn record
// per line, as Apache copies each stderr line to its error log.
func logStderr(ctx context.Context, l *slog.Logger, script string, stderr []byte) {
	if len(stderr) == 0 || !l.Enabled(ctx, slog.LevelWarn) {
		return
	}
	for line := range bytes.Lines(stderr) {
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		l.LogAttrs(ctx, slog.LevelWarn, string(line), slog.String(keyScript, script))
	}
}
