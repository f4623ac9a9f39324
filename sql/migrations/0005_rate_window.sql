-- 0005_rate_window: each channel's rate limit, shared by every worker through PostgreSQL (when REDIS_URL
-- is not set; src/send/window-pg.ts). A sliding log of departures, not a counter per fixed window: a
-- fixed window lets 2 × limit through across its edge, and the contract is "any rolling second".
--
-- A grant is a row with departed_at NULL (pending: the attempt is being recorded), then stamped with the
-- server clock when the request leaves. Pending rows count against the window, so a slot cannot be
-- handed out twice while its request is on the way; pending rows of a crashed worker expire.
-- UNLOGGED: the log only matters for the next second; after a server crash it starts empty, like Redis.

CREATE UNLOGGED TABLE rate_window (
  channel     text NOT NULL,
  id          uuid NOT NULL,
  granted_at  timestamptz NOT NULL,
  departed_at timestamptz,
  PRIMARY KEY (channel, id)
);

-- A channel slowed down after a 429/130429: no grant before `until` (for every worker).
CREATE UNLOGGED TABLE rate_block (
  channel text PRIMARY KEY,
  until   timestamptz NOT NULL
);

-- Returns 0 when the grant `p_id` was recorded, else the milliseconds to wait before asking again.
-- One channel at a time (transaction-level advisory lock, released when the calling statement ends), so
-- the count and the insert cannot interleave between workers. Times come from this server's clock only.
CREATE FUNCTION rate_window_acquire(p_channel text, p_rps int, p_id uuid, p_window_ms int, p_stale_ms int)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  t       timestamptz;
  n       int;
  oldest  timestamptz;
  blocked timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('rate_window:' || p_channel, 0));
  t := clock_timestamp();
  SELECT until INTO blocked FROM rate_block WHERE channel = p_channel;
  IF blocked IS NOT NULL AND blocked > t THEN
    RETURN greatest(1, ceil(extract(epoch FROM blocked - t) * 1000))::int;
  END IF;
  DELETE FROM rate_window
  WHERE channel = p_channel
    AND (departed_at < t - make_interval(secs => p_window_ms / 1000.0)
         OR (departed_at IS NULL AND granted_at < t - make_interval(secs => p_stale_ms / 1000.0)));
  SELECT count(*), min(departed_at) INTO n, oldest FROM rate_window WHERE channel = p_channel;
  IF n < p_rps THEN
    INSERT INTO rate_window (channel, id, granted_at) VALUES (p_channel, p_id, t);
    RETURN 0;
  END IF;
  -- Full of pending grants only: they depart within milliseconds (or expire).
  IF oldest IS NULL THEN RETURN 2; END IF;
  RETURN greatest(1, ceil(extract(epoch FROM oldest + make_interval(secs => p_window_ms / 1000.0) - t) * 1000))::int;
END $$;
