-- GET one fixed path (the wrk URL) with BENCH_TOKEN when set and, as If-None-Match, BENCH_INM
-- or the content of the file BENCH_INM_FILE.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local token = os.getenv("BENCH_TOKEN")
local inm = os.getenv("BENCH_INM")
local inm_file = os.getenv("BENCH_INM_FILE")
if inm_file and inm_file ~= "" then
  local f = assert(io.open(inm_file))
  inm = f:read("*l")
  f:close()
end
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
if inm and inm ~= "" then wrk.headers["If-None-Match"] = inm end
