-- POST BENCH_BODY (with %d replaced by a unique number) to the wrk URL with BENCH_TOKEN.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local body = os.getenv("BENCH_BODY")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
                  ["Content-Type"] = "application/json" }
local n = 0
local tag = tostring(math.random(1, 1e9))

request = function()
  n = n + 1
  return wrk.format("POST", nil, headers, string.format(body, tag .. "-" .. n))
end
