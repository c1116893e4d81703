-- How far along a run state is: a terminal state outranks running, which
-- outranks queued. The recorder keeps the higher-ranked state when results
-- arrive out of order or twice, so applying a result again changes nothing.
CREATE FUNCTION chime_state_rank(state text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE state WHEN 'queued' THEN 0 WHEN 'running' THEN 1 ELSE 2 END $$;
