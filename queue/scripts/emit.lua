-- Fenced emission of a batch of ticks. See docs/lease.md.
-- KEYS[1] {p}:leader, KEYS[2] {p}:cursor, KEYS[3] {p}:results, KEYS[4] {p}:queues
-- ARGV[1] lease token, ARGV[2] now (ms), ARGV[3] key prefix,
-- ARGV[4] consumer group of the queue streams, ARGV[5] number of ticks,
-- then six values per tick, oldest tick of a job first:
--   job id, tick (ms), queue, mode, event JSON, result JSON
-- mode: 'a' allow, 'f' forbid, 'r' replace (overlap policies of a tick to
-- emit), 'm' report as missed without emitting. The result JSON is the
-- `missed` result (mode m), or for mode f the `skipped` result, which may be
-- empty: the script then builds it from the event (cjson); empty otherwise.
-- Returns 'LEASE_LOST', or one character per tick:
--   e emitted, c emitted and cancels published (replace), s skipped (forbid),
--   m reported missed, d duplicate (the cursor already covers the tick).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'LEASE_LOST'
end
local cursor_key, results_key, queues_key = KEYS[2], KEYS[3], KEYS[4]
local now = ARGV[2]
local prefix = ARGV[3]
local group = ARGV[4]
local n = tonumber(ARGV[5])
-- One HMGET for every cursor and one HSET at the end: two calls per batch
-- instead of two per tick. `cursors` follows the batch as it advances, so a
-- job's later ticks in the same batch see its earlier ones.
-- (unpack is limited to a few thousand values, hence slices of 1000.)
local cursors = {}
for first = 0, n - 1, 1000 do
  local fields = {}
  for i = first, math.min(first + 999, n - 1) do
    fields[#fields + 1] = ARGV[6 + i * 6]
  end
  local stored = redis.call('HMGET', cursor_key, unpack(fields))
  for i = 1, #fields do
    if stored[i] then
      cursors[fields[i]] = tonumber(stored[i])
    end
  end
end
local advanced = {}
local ready = {}
local out = {}
for i = 0, n - 1 do
  local b = 6 + i * 6
  local job, tick_s, queue, mode = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local tick = tonumber(tick_s)
  local cur = cursors[job]
  local code
  if cur and cur >= tick then
    code = 'd'
  else
    if mode == 'm' then
      redis.call('XADD', results_key, '*', 'event', ARGV[b + 5])
      code = 'm'
    else
      local running = prefix .. ':running:' .. job
      local live = 0
      if mode ~= 'a' then
        live = redis.call('ZCOUNT', running, '(' .. now, '+inf')
      end
      if mode == 'f' and live > 0 then
        local skipped = ARGV[b + 5]
        if skipped == '' then
          -- The usual case: built here from the event, so callers need
          -- not encode a result for every tick that is almost never skipped.
          local e = cjson.decode(ARGV[b + 4])
          skipped = cjson.encode({
            v = 1, run_id = e.run_id, job_id = e.job_id, job_version = e.job_version,
            attempt = e.attempt, state = 'skipped', trigger = e.trigger,
            scheduled_at = e.scheduled_at, finished_at = tonumber(now),
            error = 'skipped: an earlier run was still running (overlap forbid)'
          })
        end
        redis.call('XADD', results_key, '*', 'event', skipped)
        code = 's'
      else
        local stream = prefix .. ':q:' .. queue
        if not ready[queue] then
          -- BUSYGROUP (the group exists) is the usual answer and is fine.
          redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
          redis.call('SADD', queues_key, queue)
          ready[queue] = true
        end
        redis.call('XADD', stream, '*', 'event', ARGV[b + 4])
        code = 'e'
        if mode == 'r' and live > 0 then
          local ids = redis.call('ZRANGEBYSCORE', running, '(' .. now, '+inf')
          for _, run_id in ipairs(ids) do
            redis.call('PUBLISH', prefix .. ':control',
              '{"v":1,"op":"cancel","run_id":"' .. run_id .. '","reason":"replaced"}')
          end
          code = 'c'
        end
      end
    end
    cursors[job] = tick
    advanced[job] = tick_s
  end
  out[#out + 1] = code
end
local pending = {}
for job, tick_s in pairs(advanced) do
  pending[#pending + 1] = job
  pending[#pending + 1] = tick_s
  if #pending == 2000 then
    redis.call('HSET', cursor_key, unpack(pending))
    pending = {}
  end
end
if #pending > 0 then
  redis.call('HSET', cursor_key, unpack(pending))
end
return table.concat(out)
