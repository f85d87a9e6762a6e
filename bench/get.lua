-- GET one fixed path (the wrk URL) with BENCH_TOKEN when set and BENCH_INM as If-None-Match.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local token = os.getenv("BENCH_TOKEN")
local inm = os.getenv("BENCH_INM")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
if inm and inm ~= "" then wrk.headers["If-None-Match"] = inm end
