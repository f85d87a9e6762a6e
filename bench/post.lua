-- POST BENCH_BODY to the wrk URL with BENCH_TOKEN. Every "{n}" in the body becomes a value
-- unique to the request: BENCH_TAG (different for every run, from script/bench) and a counter.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local body = os.getenv("BENCH_BODY")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
                  ["Content-Type"] = "application/json" }
local tag = os.getenv("BENCH_TAG") or tostring(os.time())
local n = 0

request = function()
  n = n + 1
  local uniq = tag .. "-" .. n
  return wrk.format("POST", nil, headers, (body:gsub("{n}", uniq)))
end
