-- wrk script used for every cell of benchmarks/run.sh.
--
-- Request: GET by default; with WRK_BODY set, a POST of that
-- application/x-www-form-urlencoded body (the form script).
--
-- Result: one machine-readable line on stdout after wrk's own report:
--   RESULT requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N max_us=N
--          non2xx=N connect=N read=N write=N timeout=N bytes=N
-- non2xx counts responses with a status outside 200-399 (wrk's "status"
-- errors); connect/read/write/timeout are socket errors.

local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d bytes=%d\n",
    summary.requests, summary.duration, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout, summary.bytes))
end
