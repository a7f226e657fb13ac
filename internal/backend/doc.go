// Package backend runs CGI requests: one cgienv.Runner (Dispatcher) that
// sends each script to the backend that can run it as Apache would, by
// shebang, --cgi globs and --isolation-for rules. The backends are
// embedded Python (sub-interpreters or the main interpreter, on an interp
// pool), process mode (worker processes, through internal/procmode) and
// plain CGI (a process per request). It is the only package that imports
// pyhost, and the one owner of a request's time limit: every timeout
// surfaces as ErrTimeout.
package backend
