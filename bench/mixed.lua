-- 90% GET BENCH_PATH over BENCH_IDS, 10% POST BENCH_BODY to BENCH_WRITE_PATH.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local path, write_path = os.getenv("BENCH_PATH"), os.getenv("BENCH_WRITE_PATH")
local body = os.getenv("BENCH_BODY")
local auth = "Bearer " .. os.getenv("BENCH_TOKEN")
local n = 0
local tag = tostring(math.random(1, 1e9))

request = function()
  n = n + 1
  if n % 10 == 0 then
    return wrk.format("POST", write_path, { ["Authorization"] = auth,
      ["Content-Type"] = "application/json" }, string.format(body, tag .. "-" .. n))
  end
  return wrk.format("GET", string.format(path, ids[math.random(#ids)]),
    { ["Authorization"] = auth })
end
