-- Compare-and-expire: extend the lease only if the caller still holds it.
-- KEYS[1] {p}:leader; ARGV[1] token (node_id:epoch), ARGV[2] ttl in ms.
-- Returns 1 when renewed, 0 when the lease is gone or someone else's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
