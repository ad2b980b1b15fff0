-- wrk script of the benchmark (bench/run.ts drives it).
--
--   SCENARIO     list | revalidate | create | get-one | update | toggle | lists | list-tasks | mcp-list   (default list)
--   TOKENS_FILE  one "token id" pair a line: a valid bearer token and the id of
--                a task its subject owns (list-tasks: of a list it owns;
--                revalidate: the ETag of the subject's list, sent as
--                If-None-Match; the second field is needed by get-one, update,
--                toggle, list-tasks and revalidate only; a line may hold just a token)
--   LIST_QUERY   query string of list, and what list-tasks adds to list_id=<id>  (default limit=50)
--   STATUSES     1: count responses by status (a diagnostic). Off by default: to
--                call response(), wrk copies every response's headers and body
--                into Lua, a cost per response that grows with the headers,
--                so the server sending more of them would look slower
--                whenever wrk's core is short. wrk counts statuses above 399
--                itself either way (errors.status).
--
-- Every request picks a random line: a random user (and one of its tasks).
-- Requests are formatted once in init() where they never change, so that wrk
-- spends as little as possible of its core per request; update sends a new
-- title every time, so that every update really changes the row.
-- done() prints one JSON line: requests, duration, statuses (with STATUSES=1),
-- socket and status errors, latency percentiles (ms).

local scenario = os.getenv("SCENARIO") or "list"
local list_query = os.getenv("LIST_QUERY") or "limit=50"
local tokens_file = os.getenv("TOKENS_FILE")
if not tokens_file then error("set TOKENS_FILE") end

local known = { list = true, revalidate = true, create = true, ["get-one"] = true, update = true, toggle = true, lists = true, ["list-tasks"] = true, ["mcp-list"] = true }
if not known[scenario] then error("unknown SCENARIO " .. scenario) end

local threads = {}
function setup(thread)
  thread:set("thread_id", #threads + 1)
  threads[#threads + 1] = thread
end

local requests, pairs_ = {}, {}
local count = 0
local counter = 0

function init(args)
  statuses = {}
  math.randomseed(os.time() * 1000 + (thread_id or 1) * 7919)
  local tokens, seen = {}, {}
  for line in io.lines(tokens_file) do
    local token, id = line:match("^(%S+)%s*(%S*)%s*$")
    if token then
      if id ~= "" then pairs_[#pairs_ + 1] = { token, id } end
      if not seen[token] then
        seen[token] = true
        tokens[#tokens + 1] = token
      end
    end
  end
  local path = "/api/tasks"
  if list_query ~= "" then path = path .. "?" .. list_query end
  if scenario == "list" or scenario == "create" or scenario == "lists" or scenario == "mcp-list" then
    for i, token in ipairs(tokens) do
      local headers = { ["Authorization"] = "Bearer " .. token }
      if scenario == "list" then
        requests[i] = wrk.format("GET", path, headers)
      elseif scenario == "mcp-list" then
        -- The MCP tool that wraps the list: the same 50 tasks, over JSON-RPC.
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json, text/event-stream"
        requests[i] = wrk.format("POST", "/mcp", headers,
          '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks","arguments":{"limit":50}}}')
      elseif scenario == "lists" then
        requests[i] = wrk.format("GET", "/api/lists", headers)
      else
        headers["Content-Type"] = "application/json"
        requests[i] = wrk.format("POST", "/api/tasks", headers, '{"title":"bench task"}')
      end
    end
  elseif scenario == "get-one" or scenario == "toggle" or scenario == "list-tasks" or scenario == "revalidate" then
    for i, pair in ipairs(pairs_) do
      local headers = { ["Authorization"] = "Bearer " .. pair[1] }
      if scenario == "revalidate" then
        headers["If-None-Match"] = pair[2]
        requests[i] = wrk.format("GET", path, headers)
      elseif scenario == "get-one" then
        requests[i] = wrk.format("GET", "/api/tasks/" .. pair[2], headers)
      elseif scenario == "list-tasks" then
        local query = "list_id=" .. pair[2]
        if list_query ~= "" then query = query .. "&" .. list_query end
        requests[i] = wrk.format("GET", "/api/tasks?" .. query, headers)
      else
        headers["Content-Length"] = "0"
        requests[i] = wrk.format("PATCH", "/api/tasks/" .. pair[2] .. "/complete", headers)
      end
    end
  end
  if scenario == "update" then count = #pairs_ else count = #requests end
  if count == 0 then error("TOKENS_FILE has no usable line for " .. scenario) end
end

function request()
  if scenario == "update" then
    local pair = pairs_[math.random(count)]
    counter = counter + 1
    return wrk.format("PATCH", "/api/tasks/" .. pair[2],
      { ["Authorization"] = "Bearer " .. pair[1], ["Content-Type"] = "application/json" },
      '{"title":"updated ' .. (thread_id or 1) .. "-" .. counter .. '"}')
  end
  return requests[math.random(count)]
end

if os.getenv("STATUSES") == "1" then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests_)
  local total = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    if counted then
      for status, n in pairs(counted) do
        total[tostring(status)] = (total[tostring(status)] or 0) + n
      end
    end
  end
  local parts = {}
  for status, n in pairs(total) do parts[#parts + 1] = string.format('"%s":%d', status, n) end
  local e = summary.errors
  io.write(string.format(
    '{"scenario":"%s","requests":%d,"duration_s":%.3f,"statuses":{%s},"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f}\n',
    scenario, summary.requests, summary.duration / 1e6, table.concat(parts, ","), e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
