-- 0018: when each request left, as the rate limit counts it (src/send/sender.ts): the moment its last
-- byte was handed to the OS, or, for an adapter that cannot tell (the sandbox), when its answer came.
-- Stamped by the sending worker's clock (microseconds) and stored with the attempt's outcome, in the
-- statement that records it anyway. `started_at` is when the attempt was recorded, before the request
-- waited out its rate-limit grant, so it cannot show the limit; this column can: no more than
-- WA_RATE_LIMIT_RPS of a channel's attempts in any rolling second (across workers on one clock). Null
-- for an attempt that never left, or whose outcome is not recorded yet.
ALTER TABLE send_attempts ADD COLUMN IF NOT EXISTS written_at timestamptz;
