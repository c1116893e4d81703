-- Fenced promotion of due members of the delayed set to their queues.
-- KEYS[1] {p}:leader, KEYS[2] {p}:delayed, KEYS[3] {p}:queues
-- ARGV[1] lease token, ARGV[2] key prefix, ARGV[3] consumer group,
-- ARGV[4] number of members, then three values per member:
--   member (as stored), queue, event JSON to append (emitted_at rewritten)
-- Returns 'LEASE_LOST', or one character per member: '1' promoted, '0'
-- already gone (someone else promoted or removed it).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'LEASE_LOST'
end
local prefix, group = ARGV[2], ARGV[3]
local n = tonumber(ARGV[4])
local ready = {}
local out = {}
for i = 0, n - 1 do
  local b = 5 + i * 3
  if redis.call('ZREM', KEYS[2], ARGV[b]) == 1 then
    local queue = ARGV[b + 1]
    local stream = prefix .. ':q:' .. queue
    if not ready[queue] then
      redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
      redis.call('SADD', KEYS[3], queue)
      ready[queue] = true
    end
    redis.call('XADD', stream, '*', 'event', ARGV[b + 2])
    out[#out + 1] = '1'
  else
    out[#out + 1] = '0'
  end
end
return table.concat(out)
