package observe

// The status listener (--status ADDR): a page for people at /, Prometheus
// metrics at /metrics, and /healthz and /readyz for supervisors and load
// balancers. It has its own listener so that it can stay on loopback (or
// a private network) while the scripts are served to the world.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warmcgi/warmcgi/interp"
)

// ErrStatusNotLoopback refuses a --status address that is not loopback.
var ErrStatusNotLoopback = errors.New("not a loopback address; the status page and metrics tell anyone who can reach them what runs here and how loaded it is (pass --status-public to serve them there anyway)")

// ListenStatus binds the status address. It is bound before it is
// checked, so that a host name is judged by the address it gave.
func ListenStatus(addr string, public bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--status: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && !public {
		ln.Close()
		return nil, fmt.Errorf("--status %s: %w", addr, ErrStatusNotLoopback)
	}
	return ln, nil
}

// StatusInfo is the fixed part of the status page.
type StatusInfo struct {
	Python string // the Python version, one line
	Mode   string // the settings that shape how scripts run
}

// NewStatusServer builds the status listener's server.
func NewStatusServer(st *Metrics, info StatusInfo, logger *slog.Logger) *http.Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(st,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ok, why := st.readiness()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, why+"\n")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		writeStatusPage(w, st, info, time.Now())
	})
	return &http.Server{
		Handler:           mux,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// ShutdownStatus stops the status server once the main one has drained:
// until then /readyz keeps answering 503, as a load balancer expects.
func ShutdownStatus(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if srv.Shutdown(ctx) != nil {
		srv.Close()
	}
}

// writeStatusPage writes the plain-text status page.
func writeStatusPage(w io.Writer, st *Metrics, info StatusInfo, now time.Time) {
	ps := st.poolStats()
	sources := st.sourceList()
	size := 0
	for _, s := range sources {
		size += len(s.slots)
	}
	_, why := st.readiness()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "warmcgi\t\n")
	fmt.Fprintf(tw, "uptime\t%s (since %s)\n", now.Sub(st.start).Round(time.Second), st.start.Format(time.RFC3339))
	fmt.Fprintf(tw, "python\t%s\n", info.Python)
	fmt.Fprintf(tw, "mode\t%s\n", info.Mode)
	fmt.Fprintf(tw, "state\t%s\n", why)
	fmt.Fprintf(tw, "in flight\t%d\n", st.inFlight.Load())
	fmt.Fprintf(tw, "queue\t%d waiting, %d rejected (503)\n", ps.Queued, ps.Rejected)
	fmt.Fprintf(tw, "workers\t%d of %d running, %d busy, %d replaced\n", ps.Workers, size, ps.Busy, ps.Replaced)
	if ps.Abandoned > 0 {
		fmt.Fprintf(tw, "abandoned\t%d scripts overran --timeout and did not stop; %d still hold an interpreter\n", ps.Abandoned, ps.Stuck)
	}
	tw.Flush()

	for _, s := range sources {
		if len(sources) == 1 {
			fmt.Fprintf(w, "\nWorkers\n")
		} else {
			fmt.Fprintf(w, "\nWorkers (%s)\n", s.name)
		}
		writeWorkers(w, s, now)
	}

	if moves := st.moveList(); len(moves) > 0 {
		fmt.Fprintf(w, "\nMoved by --isolation auto\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "script\tmode\tsince\treason\n")
		for _, m := range moves {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Script, m.Mode, m.Since.Format(time.RFC3339), m.Reason)
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\nScripts (latency: mean, and p99 as the bucket bound it falls under)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "script\trequests\t2xx\t3xx\t4xx\t5xx\ttimeouts\tmean\tp99\tcompiles\treloads\n")
	snaps := st.scriptSnapshots()
	slices.SortStableFunc(snaps, func(a, b scriptSnapshot) int { return strings.Compare(a.name, b.name) })
	for _, ss := range snaps {
		mean := "-"
		if ss.requests > 0 {
			mean = (ss.total / time.Duration(ss.requests)).Round(time.Microsecond).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%d\n", ss.name, ss.requests,
			ss.byClass[2], ss.byClass[3], ss.byClass[4], ss.byClass[5], ss.timeouts,
			mean, formatBound(ss.quantile(0.99)), ss.compiles, ss.reloads)
	}
	tw.Flush()
}

// writeWorkers writes the table of one source's workers.
func writeWorkers(w io.Writer, s *source, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id\tstate\tserved\treplaced\tfor\tscript\n")
	for _, ws := range s.src.Workers(make([]interp.WorkerStats, 0, len(s.slots))) {
		state, script, since := "idle", "", ""
		switch {
		case !ws.Live:
			state = "down"
		case ws.Busy:
			state = "busy"
			if ws.ID < 0 || ws.ID >= len(s.slots) {
				break
			}
			slot := &s.slots[ws.ID]
			if p := slot.script.Load(); p != nil {
				script = *p
			}
			if t := slot.since.Load(); t != 0 {
				since = now.Sub(time.Unix(0, t)).Round(time.Millisecond).String()
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", ws.ID, state, ws.Served, ws.Replaced, orDash(since), orDash(script))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatBound prints a histogram bound in seconds as a duration.
func formatBound(sec float64) string {
	switch {
	case math.IsNaN(sec):
		return "-"
	case math.IsInf(sec, 1):
		return fmt.Sprintf(">%gs", durationBuckets[len(durationBuckets)-1])
	}
	return "≤" + time.Duration(sec*float64(time.Second)).String()
}
