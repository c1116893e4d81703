-- Keeps this consumer's claims on in-progress entries fresh: resets their
-- idle time (XCLAIM ... JUSTID with min-idle 0) so no other executor
-- reclaims them. An entry no longer pending under this consumer is not
-- stolen back; its id is returned so the caller can stop that run.
--
-- KEYS[1] queue stream.
-- ARGV[1] group, ARGV[2] consumer, ARGV[3..] entry ids.
local lost = {}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #pending == 1 and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
