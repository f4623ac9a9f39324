-- 0004_retry_budget: `campaign retry` gives a requeued recipient a fresh attempt budget.
--
-- Why a base and not a reset: send_attempts numbers a recipient's requests 1, 2, 3… (UNIQUE (campaign_id,
-- line, attempt)) and the report counts every request beyond the first as a retry, so `attempts` must keep
-- growing across a retry. The budget a cause allows (MAX_ATTEMPTS in src/send/record.ts) is counted from
-- `attempt_base` instead: `campaign retry` sets it to `attempts` when it puts the row back in the queue, and
-- record.ts fails the row once `attempt - attempt_base` reaches the budget.
--
-- ADD COLUMN with a constant default rewrites nothing; the CHECK reads every row once, under this
-- migration's lock, as every CHECK added to an existing table does.

ALTER TABLE recipients
  ADD COLUMN attempt_base int NOT NULL DEFAULT 0,
  ADD CONSTRAINT recipients_attempt_base CHECK (attempt_base >= 0 AND attempt_base <= attempts);
