// Package observe owns what warmcgi tells about itself: the access log,
// the counters behind the status page and Prometheus /metrics, and the
// status listener that serves them with /healthz and /readyz. Backends
// report their workers through the small Source interface (an
// *interp.Pool satisfies it) and the Tracker that AddSource returns.
package observe
