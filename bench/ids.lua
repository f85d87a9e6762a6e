-- GET a path built from a list of ids, picked at random: BENCH_IDS names the file (one id per
-- line), BENCH_PATH the path with %s for the id, BENCH_TOKEN the bearer token.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local path = os.getenv("BENCH_PATH")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }

request = function()
  return wrk.format("GET", string.format(path, ids[math.random(#ids)]), headers)
end
