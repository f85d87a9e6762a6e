-- 90% GET BENCH_PATH over BENCH_IDS, 10% POST BENCH_BODY to BENCH_WRITE_PATH. In the body
-- "{id}" becomes one of the ids (a random one, like the reads) and "{n}" a unique value.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local path, write_path = os.getenv("BENCH_PATH"), os.getenv("BENCH_WRITE_PATH")
local body = os.getenv("BENCH_BODY")
local auth = "Bearer " .. os.getenv("BENCH_TOKEN")
local tag = os.getenv("BENCH_TAG") or tostring(os.time())
local n = 0

request = function()
  n = n + 1
  local id = ids[math.random(#ids)]
  if n % 10 == 0 then
    local b = body:gsub("{id}", id):gsub("{n}", tag .. "-" .. n)
    return wrk.format("POST", write_path, { ["Authorization"] = auth,
      ["Content-Type"] = "application/json" }, b)
  end
  return wrk.format("GET", string.format(path, id), { ["Authorization"] = auth })
end
