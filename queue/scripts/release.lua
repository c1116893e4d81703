-- Compare-and-delete: give the lease up only if the caller still holds it.
-- KEYS[1] {p}:leader; ARGV[1] token (node_id:epoch).
-- Returns 1 when released, 0 when it was not the caller's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
