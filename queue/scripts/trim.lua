-- Trim a stream without dropping anything a consumer group still needs.
-- KEYS[1] the stream; ARGV[1] the consumer group.
-- Entries after the group's last-delivered id have not been read; entries
-- in its pending list have not been acknowledged. Both are kept: the trim
-- point is the oldest pending id, or the last-delivered id when nothing is
-- pending, and `MINID ~` only ever removes less than asked.
-- Returns the number of entries removed (0 when the stream or group is missing).
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if type(groups) ~= 'table' or groups.err then
  return 0
end
local last
for _, g in ipairs(groups) do
  local name, delivered
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then delivered = g[i + 1] end
  end
  if name == ARGV[1] then last = delivered end
end
if not last or last == '0-0' then
  return 0
end
local minid = last
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
if pending[1] > 0 and pending[2] then
  minid = pending[2]
end
return redis.call('XTRIM', KEYS[1], 'MINID', '~', minid)
