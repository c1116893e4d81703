-- Settles one queue entry in a single step, so a crash cannot split the
-- result from the acknowledgement: writes the terminal result (if any),
-- schedules the next attempt (if any), dead-letters the event (if asked),
-- removes the run from its running set and acknowledges the entry.
--
-- It does nothing and returns 0 when the entry is no longer pending under
-- this consumer: another executor reclaimed it after this one stalled past
-- the visibility timeout, and that executor reports the run instead.
--
-- KEYS[1] queue stream, KEYS[2] results stream, KEYS[3] running set of the
-- job (or any key when ARGV[5] is empty), KEYS[4] delayed set, KEYS[5] dead
-- stream.
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] entry id, ARGV[4] result JSON or
-- '', ARGV[5] run id or '', ARGV[6] delayed member or '', ARGV[7] its due
-- time (ms), ARGV[8] dead-letter event or '', ARGV[9] dead-letter reason,
-- ARGV[10] the entry field name for JSON (`event`), ARGV[11] the dead
-- stream's reason field (`reason`).
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then
  return 0
end
if ARGV[4] ~= '' then
  redis.call('XADD', KEYS[2], '*', ARGV[10], ARGV[4])
end
if ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[6])
end
if ARGV[8] ~= '' then
  redis.call('XADD', KEYS[5], '*', ARGV[10], ARGV[8], ARGV[11], ARGV[9])
end
if ARGV[5] ~= '' then
  redis.call('ZREM', KEYS[3], ARGV[5])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return 1
