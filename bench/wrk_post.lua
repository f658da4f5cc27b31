-- wrk script: POST a chat request with a keygate token; print machine-readable results.
-- Usage: KG_BODY_FILE=<file> KG_TOKEN=<token or empty> wrk -s wrk_post.lua URL
-- (environment, not script arguments: wrk hands those only to per-thread init()).
local body_file, token = os.getenv("KG_BODY_FILE"), os.getenv("KG_TOKEN")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token and #token > 0 then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local f = assert(io.open(body_file, "r"))
wrk.body = f:read("*a")
f:close()

local non2xx = 0
function response(status, headers, body)
  if status < 200 or status >= 300 then
    non2xx = non2xx + 1
  end
end

-- response() runs per thread; the summary below reads wrk's own counters, so a non-2xx
-- count is reported through errors.status as well.
function done(summary, latency, requests)
  io.write(string.format(
    "RESULT {\"requests\": %d, \"duration_us\": %d, \"errors_connect\": %d, \"errors_read\": %d, " ..
    "\"errors_write\": %d, \"errors_timeout\": %d, \"errors_status\": %d, " ..
    "\"p50_us\": %d, \"p99_us\": %d, \"p999_us\": %d, \"mean_us\": %.1f}\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.mean))
end
