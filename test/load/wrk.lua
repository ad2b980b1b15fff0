-- Random user per request (tokens in TOKENS_FILE, one per line), and a count
-- of every status and socket outcome, printed as JSON by done().
local method = os.getenv("METHOD") or "GET"
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end

local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  statuses = {}
  math.randomseed(os.time() + id * 7919)
end

function request()
  local token = tokens[math.random(#tokens)]
  local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  if method == "POST" then
    return wrk.format("POST", "/api/tasks", headers, '{"title":"load test","tags":["load"]}')
  end
  return wrk.format("GET", "/api/tasks?limit=20", headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[tostring(status)] = (total[tostring(status)] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do parts[#parts + 1] = string.format('"%s":%d', status, count) end
  local e = summary.errors
  io.write(string.format('RESULT {"requests":%d,"duration_s":%.2f,"statuses":{%s},"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},"p50_ms":%.1f,"p99_ms":%.1f,"max_ms":%.1f}\n',
    summary.requests, summary.duration / 1e6, table.concat(parts, ","), e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
