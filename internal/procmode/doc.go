// Package procmode is the worker-process side of --isolation process: the
// wire protocol between the server and a `warmcgi worker` process (pure-Go
// framing), the parent side that starts, feeds, times and replaces those
// processes, and the child loop that runs each request with its own fds
// 0-2. It knows nothing of Python: the child runs scripts through an
// Executor its caller supplies (internal/backend's, backed by pyhost).
package procmode
