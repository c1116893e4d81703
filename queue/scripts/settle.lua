-- Settles queue entries, each in a single step, so a crash cannot split a
-- result from its acknowledgement: for each entry, writes the terminal
-- result (if any), schedules the next attempt (if any), dead-letters the
-- event (if asked), removes the run from its running set and acknowledges
-- the entry. One call settles a batch: Redis pays a script call's overhead
-- once, not once per entry.
--
-- An entry no longer pending under this consumer is left alone (another
-- executor reclaimed it after this one stalled past the visibility timeout,
-- and that executor reports the run instead).
--
-- KEYS[1] results stream, KEYS[2] delayed set, KEYS[3] dead stream, then
-- two per entry: its queue stream and its job's running set (any key when
-- the entry has no run id).
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] the entry field name for JSON
-- (`event`), ARGV[4] the dead stream's reason field (`reason`), then seven
-- per entry: entry id, result JSON or '', run id or '', delayed member or
-- '', its due time (ms), dead-letter event or '', dead-letter reason.
-- Returns one character per entry: '1' settled, '0' not this consumer's.
local group, consumer, field, reason_field = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local out = {}
for i = 0, (#KEYS - 3) / 2 - 1 do
  local queue, running = KEYS[4 + i * 2], KEYS[5 + i * 2]
  local b = 5 + i * 7
  local entry_id, result, run_id = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local pending = redis.call('XPENDING', queue, group, entry_id, entry_id, 1)
  if #pending == 0 or pending[1][2] ~= consumer then
    out[#out + 1] = '0'
  else
    if result ~= '' then
      redis.call('XADD', KEYS[1], '*', field, result)
    end
    if ARGV[b + 3] ~= '' then
      redis.call('ZADD', KEYS[2], ARGV[b + 4], ARGV[b + 3])
    end
    if ARGV[b + 5] ~= '' then
      redis.call('XADD', KEYS[3], '*', field, ARGV[b + 5], reason_field, ARGV[b + 6])
    end
    if run_id ~= '' then
      redis.call('ZREM', running, run_id)
    end
    redis.call('XACK', queue, group, entry_id)
    out[#out + 1] = '1'
  end
end
return table.concat(out)
