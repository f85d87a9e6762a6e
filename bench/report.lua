-- Shared by every scenario: prints one machine-readable line at the end of a wrk run:
--   RESULT <requests/s> <p50 ms> <p99 ms> <errors> <non-2xx/3xx responses>
-- With BENCH_STATUS set it also counts the answers per status in each thread and prints
--   STATUS <code> <count>
-- (a Lua call per response: for finding out what the errors are, not for measuring).
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

if os.getenv("BENCH_STATUS") then
  statuses = {}
  response = function(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status >= 400 and not shown then
      shown = true
      io.stderr:write("first error answer: ", status, " ", body or "", "\n")
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors, summary.errors.status))
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for code, n in pairs(s) do io.write(string.format("STATUS %d %d\n", code, n)) end
    end
  end
end
