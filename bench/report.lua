-- Shared by every scenario: prints one machine-readable line at the end of a wrk run:
--   RESULT <requests/s> <p50 ms> <p99 ms> <errors> <non-2xx/3xx responses>
local counts = {}

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors, summary.errors.status))
end
