-- Recurring campaigns and their firings (migration 0008; src/schedules/).

-- name: schedule_insert
-- A recurring campaign: what each run needs (template, mapping, channel, the file's path and shape as
-- inspected at create) and when it fires. It holds no rows itself: its ingest is "done" and empty.
INSERT INTO campaigns (name, template_id, channel, phone_column, param_map, default_country, source_file,
                       source_encoding, source_delimiter, source_header, param_options, source_record_delimiter,
                       cron, cron_tz, overlap, next_run_at, state, ingest_state, ingest_chunks, ingest_next_seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, '{}'::jsonb), $12, $13, $14, $15, $16,
        'scheduled', 'done', 0, 0)
RETURNING *;

-- name: schedule_due
-- Active schedules whose next firing has come.
SELECT id, cron, cron_tz, next_run_at FROM campaigns
WHERE cron IS NOT NULL AND state = 'scheduled' AND next_run_at <= now()
ORDER BY next_run_at LIMIT 100;

-- name: schedule_firing_claim
-- $1 schedule, $2 the firing time it was due at, $3 its next firing. Moves the schedule on and records the
-- firing in one statement; of two workers that saw the same due firing, the second finds next_run_at
-- moved (after waiting for the first's row lock) and inserts nothing. The primary key of schedule_firings
-- is the second guard: a firing time is claimed once, ever.
WITH moved AS (
  UPDATE campaigns SET next_run_at = $3
  WHERE id = $1 AND cron IS NOT NULL AND state = 'scheduled' AND next_run_at = $2
  RETURNING id
)
INSERT INTO schedule_firings (schedule_id, fire_at, outcome)
SELECT id, $2, 'pending' FROM moved
ON CONFLICT DO NOTHING
RETURNING schedule_id, fire_at;

-- name: schedule_firings_open
-- Firings still to decide: pending (claimed; the run is being made, or its worker died) and queued
-- (waiting for the previous run). The maintenance scan hands each to a schedule-fire job.
SELECT schedule_id, fire_at FROM schedule_firings
WHERE outcome IN ('pending', 'queued')
ORDER BY fire_at LIMIT 100;

-- name: schedule_firing_get
SELECT * FROM schedule_firings WHERE schedule_id = $1 AND fire_at = $2;

-- name: schedule_run_busy
-- A run of schedule $1, other than the one of firing $2, that has not finished.
SELECT id, state::text AS state FROM campaigns
WHERE parent_id = $1 AND fire_at <> $2 AND state IN ('draft', 'scheduled', 'running', 'paused')
ORDER BY fire_at LIMIT 1;

-- name: schedule_firing_waiting
-- Another firing of schedule $1, earlier than $2, already queued.
SELECT fire_at FROM schedule_firings
WHERE schedule_id = $1 AND fire_at < $2 AND outcome = 'queued'
LIMIT 1;

-- name: schedule_run_of_firing
SELECT id, ingest_state, state::text AS state FROM campaigns WHERE parent_id = $1 AND fire_at = $2;

-- name: schedule_firing_decide
-- $1 schedule, $2 firing, $3 outcome, $4 run, $5 detail. Only an open firing is decided.
UPDATE schedule_firings SET outcome = $3, run_id = $4, detail = $5, decided_at = now()
WHERE schedule_id = $1 AND fire_at = $2 AND outcome IN ('pending', 'queued')
RETURNING *;

-- name: campaign_set_parent
-- A run names its schedule and firing right after its row is made (unique: one run per firing).
UPDATE campaigns SET parent_id = $2, fire_at = $3 WHERE id = $1 AND parent_id IS NULL;

-- name: schedule_list
SELECT c.id, c.name, c.state::text AS state, c.cron, c.cron_tz, c.overlap, c.next_run_at, c.pause_reason, c.created_at,
       t.name AS template_name, t.language AS template_language, c.source_file,
       (SELECT count(*) FROM schedule_firings f WHERE f.schedule_id = c.id AND f.outcome = 'created')::int AS runs,
       (SELECT count(*) FROM schedule_firings f WHERE f.schedule_id = c.id AND f.outcome = 'skipped')::int AS skipped,
       (SELECT count(*) FROM schedule_firings f WHERE f.schedule_id = c.id AND f.outcome = 'failed')::int AS failed,
       (SELECT max(f.fire_at) FROM schedule_firings f WHERE f.schedule_id = c.id) AS last_fire_at
FROM campaigns c JOIN templates t ON t.id = c.template_id
WHERE c.cron IS NOT NULL
ORDER BY c.created_at DESC, c.id;

-- name: schedule_pause
-- scheduled -> paused (a recurring campaign: no firing while paused).
UPDATE campaigns SET state = 'paused', pause_reason = 'schedule paused by the operator', started_at = coalesce(started_at, now())
WHERE id = $1 AND cron IS NOT NULL AND state = 'scheduled'
RETURNING *;

-- name: schedule_resume
-- paused -> scheduled, firing next at $2 (computed from now: firings missed while paused are not made up).
UPDATE campaigns SET state = 'scheduled', pause_reason = NULL, next_run_at = $2
WHERE id = $1 AND cron IS NOT NULL AND state = 'paused'
RETURNING *;

-- name: schedule_remove
-- scheduled|paused -> cancelled: it never fires again; its runs and their reports stay.
UPDATE campaigns SET state = 'cancelled', cancelled_at = now(), pause_reason = NULL, next_run_at = NULL
WHERE id = $1 AND cron IS NOT NULL AND state IN ('scheduled', 'paused')
RETURNING *;
