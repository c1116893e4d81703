-- Campaign for the leader lease.
-- KEYS[1] {p}:leader, KEYS[2] {p}:leader:epoch, KEYS[3] {p}:leader:since
-- ARGV[1] node id, ARGV[2] ttl in ms
-- Returns {1, epoch, since_ms} when this caller became leader, or
-- {0, remaining ttl ms, holder token} when someone holds the lease.
-- Incrementing the epoch only on success keeps epochs dense, and doing both
-- in one script means no two callers can ever hold the same epoch.
local holder = redis.call('GET', KEYS[1])
if holder then
  return {0, redis.call('PTTL', KEYS[1]), holder}
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
local t = redis.call('TIME')
local since = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('SET', KEYS[3], since)
return {1, epoch, since}
