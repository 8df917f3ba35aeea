-- wrk script: POSTs one inference request per call and, when the run ends, prints one
-- machine-readable line that Scripts/bench parses.
--
--   wrk -s Benchmarks/wrk/post-infer.lua http://127.0.0.1:8080/v2/models/echo/infer
--
-- The body is the file named by BENCH_BODY_FILE, else the 4-element FP32 echo request.
-- Extra headers (auth, say) are given to wrk with -H; this script only adds Content-Type.

local echo_request =
  '{"inputs":[{"name":"input0","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}'

local function read_body()
  local path = os.getenv("BENCH_BODY_FILE")
  if path == nil or path == "" then
    return echo_request
  end
  local file = assert(io.open(path, "rb"))
  local body = file:read("*a")
  file:close()
  return body
end

wrk.method = "POST"
wrk.body = read_body()
wrk.headers["Content-Type"] = "application/json"

-- One line, integers only: requests, run time and latencies in microseconds, error counts.
-- errors.status counts responses with a status of 400 or more.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
