-- One round trip per MDM call slot (mdm/pacing.ts): the grant that db/mdmCallSlotsRepo.ts used to make as a
-- transaction of eight statements (locks, clock, a count per bucket, insert, prune) is this function, run
-- as one statement. Same rules, same advisory lock keys, so a replica still on the old code and one on the
-- new take turns correctly during a rolling deploy.
--
-- Buckets come in lock order (p_buckets[i] with p_lock_ids[i]); 'writes' counts only write slots.
-- Returns one row: slot_id when granted; otherwise full_bucket and wait_ms (the time until the newest
-- p_calls[i]-th slot of that bucket stops counting, a running call counted as if it finished now).
CREATE FUNCTION mdm_grant_slot(
  p_kind text,
  p_buckets text[],
  p_calls int[],
  p_counted_ms double precision[],
  p_lease_ms double precision,
  p_prune_ms double precision,
  p_lock_namespace int,
  p_lock_ids int[]
) RETURNS TABLE (slot_id bigint, full_bucket text, wait_ms double precision)
LANGUAGE plpgsql AS $$
DECLARE
  n int := coalesce(array_length(p_buckets, 1), 0);
  i int;
  v_now timestamptz;
  v_until timestamptz;
  v_id bigint;
BEGIN
  FOR i IN 1 .. n LOOP
    PERFORM pg_advisory_xact_lock(p_lock_namespace, p_lock_ids[i]);
  END LOOP;
  -- Read after the locks: a clock read before them could be older than a grant made while we waited.
  v_now := clock_timestamp();
  FOR i IN 1 .. n LOOP
    v_until := NULL;
    IF p_buckets[i] = 'writes' THEN
      SELECT s.counted_until INTO v_until FROM mdm_call_slots s
       WHERE s.counted_until > v_now - p_counted_ms[i] * interval '1 millisecond' AND s.kind = 'write'
       ORDER BY s.counted_until DESC OFFSET p_calls[i] - 1 LIMIT 1;
    ELSE
      SELECT s.counted_until INTO v_until FROM mdm_call_slots s
       WHERE s.counted_until > v_now - p_counted_ms[i] * interval '1 millisecond'
       ORDER BY s.counted_until DESC OFFSET p_calls[i] - 1 LIMIT 1;
    END IF;
    IF v_until IS NOT NULL THEN
      RETURN QUERY SELECT NULL::bigint, p_buckets[i],
        extract(epoch FROM least(v_until, v_now) - v_now)::double precision * 1000 + p_counted_ms[i];
      RETURN;
    END IF;
  END LOOP;
  INSERT INTO mdm_call_slots (kind, granted_at, counted_until)
  VALUES (p_kind, v_now, v_now + p_lease_ms * interval '1 millisecond')
  RETURNING id INTO v_id;
  DELETE FROM mdm_call_slots WHERE counted_until < v_now - p_prune_ms * interval '1 millisecond';
  RETURN QUERY SELECT v_id, NULL::text, NULL::double precision;
END
$$;
