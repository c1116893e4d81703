-- wrk script: POST /api/v1/jobs with a fresh name each time, so every
-- request creates a job (insert, version row, changes-stream entry).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = wrk.thread:get("thread_id")
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"bench-%d-%d-%d","schedule":"*/5 * * * *","target":{"type":"shell","command":["/bin/true"]},"labels":{"bench":"yes"}}',
    os.time(), thread_id, counter)
  -- A headers table replaces wrk.headers (the -H flags) rather than adding
  -- to it, so copy those in: the token travels there.
  local headers = {["Content-Type"] = "application/json"}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", "/api/v1/jobs", headers, body)
end

function done(summary, latency, requests)
  local non_2xx = summary.errors.status
  io.write(string.format("non-2xx replies: %d\n", non_2xx))
end
