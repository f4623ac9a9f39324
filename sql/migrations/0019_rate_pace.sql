-- 0019_rate_pace: workers sharing a channel send evenly, not in bursts. The sliding window (0005) caps any
-- rolling second at the limit, but with several workers each pacing itself, they filled each second's
-- window as fast as all of them together could and then waited: B3 with 3 workers at 50/s sent each
-- second's 50 in ~440 ms, then nothing for ~565 ms. Now every grant also follows one schedule per channel
-- (GCRA, virtual scheduling): a grant is due every 1000/rps ms, and may come up to two of those early, so
-- a worker that asked a little late is caught up with and bursts are three requests at most. The window
-- stays the hard limit; the schedule only spreads the grants within it.

CREATE UNLOGGED TABLE IF NOT EXISTS rate_pace (
  channel text PRIMARY KEY,
  -- When the next grant is due on the schedule (the theoretical arrival time).
  tat     timestamptz NOT NULL
);

-- Same signature as in 0005, so a worker of the release before keeps working against it.
CREATE OR REPLACE FUNCTION rate_window_acquire(p_channel text, p_rps int, p_id uuid, p_window_ms int, p_stale_ms int)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  t       timestamptz;
  n       int;
  oldest  timestamptz;
  blocked timestamptz;
  due     timestamptz;
  spacing interval := make_interval(secs => 1.0 / p_rps);
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('rate_window:' || p_channel, 0));
  t := clock_timestamp();
  SELECT until INTO blocked FROM rate_block WHERE channel = p_channel;
  IF blocked IS NOT NULL AND blocked > t THEN
    RETURN greatest(1, ceil(extract(epoch FROM blocked - t) * 1000))::int;
  END IF;
  SELECT tat INTO due FROM rate_pace WHERE channel = p_channel;
  IF due IS NOT NULL AND due - 2 * spacing > t THEN
    RETURN greatest(1, ceil(extract(epoch FROM due - 2 * spacing - t) * 1000))::int;
  END IF;
  DELETE FROM rate_window
  WHERE channel = p_channel
    AND (departed_at < t - make_interval(secs => p_window_ms / 1000.0)
         OR (departed_at IS NULL AND granted_at < t - make_interval(secs => p_stale_ms / 1000.0)));
  SELECT count(*), min(departed_at) INTO n, oldest FROM rate_window WHERE channel = p_channel;
  IF n < p_rps THEN
    INSERT INTO rate_window (channel, id, granted_at) VALUES (p_channel, p_id, t);
    INSERT INTO rate_pace (channel, tat) VALUES (p_channel, t + spacing)
    ON CONFLICT (channel) DO UPDATE SET tat = greatest(rate_pace.tat, t) + spacing;
    RETURN 0;
  END IF;
  -- Full of pending grants only: they depart within milliseconds (or expire).
  IF oldest IS NULL THEN RETURN 2; END IF;
  RETURN greatest(1, ceil(extract(epoch FROM oldest + make_interval(secs => p_window_ms / 1000.0) - t) * 1000))::int;
END $$;
