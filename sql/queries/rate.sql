-- The shared rate window of each channel (migration 0005; src/send/window-pg.ts).

-- name: rate_window_acquire
-- $1 channel, $2 rps, $3 grant id, $4 window ms, $5 ms after which a pending grant is abandoned.
SELECT rate_window_acquire($1, $2, $3, $4, $5) AS wait_ms;

-- name: rate_window_depart
-- $1 channel, $2 grant id. Stamped with this server's clock right before the request is written; a
-- grant that expired meanwhile (its worker stalled for seconds) is recorded all the same.
INSERT INTO rate_window (channel, id, granted_at, departed_at)
VALUES ($1, $2, clock_timestamp(), clock_timestamp())
ON CONFLICT (channel, id) DO UPDATE SET departed_at = EXCLUDED.departed_at;

-- name: rate_window_cancel
-- $1 channel, $2 grant id: the request never left.
DELETE FROM rate_window WHERE channel = $1 AND id = $2 AND departed_at IS NULL;

-- name: rate_block_extend
-- $1 channel, $2 ms: no grant for anyone before now + $2 (never shortens a longer block).
INSERT INTO rate_block (channel, until) VALUES ($1, clock_timestamp() + make_interval(secs => $2 / 1000.0))
ON CONFLICT (channel) DO UPDATE SET until = greatest(rate_block.until, EXCLUDED.until);
