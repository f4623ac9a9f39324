-- name: campaign_insert
INSERT INTO campaigns (name, template_id, channel, phone_column, param_map, default_country, source_file,
                       source_encoding, source_delimiter, source_header, param_options, source_record_delimiter)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, '{}'::jsonb), $12)
RETURNING *;

-- name: campaign_get
SELECT c.*, t.name AS template_name, t.language AS template_language
FROM campaigns c JOIN templates t ON t.id = c.template_id
WHERE c.id = $1;

-- name: campaign_states_get
-- The two states a send lane polls while the file is still being validated (src/send/sender.ts).
SELECT state, ingest_state FROM campaigns WHERE id = $1;

-- name: campaign_delete
DELETE FROM campaigns WHERE id = $1;

-- name: campaign_ingest_finish
-- validating -> done once every chunk is past the checkpoint. Counts are taken from the rows themselves,
-- so a re-run after a crash cannot double them.
UPDATE campaigns c SET
  ingest_state = 'done', ingest_rows = s.rows, ingest_accepted = s.accepted, ingest_invalid = s.invalid,
  ingest_duplicate = s.duplicate, ingest_suppressed = s.suppressed,
  invalid_reasons = jsonb_build_object(
    'invalid_phone', s.invalid_phone, 'missing_param', s.missing_param,
    'invalid_param', s.invalid_param, 'malformed_row', s.malformed_row)
FROM (
  SELECT count(*)::int AS rows,
         count(*) FILTER (WHERE outcome = 'accepted')::int AS accepted,
         count(*) FILTER (WHERE outcome = 'invalid')::int AS invalid,
         count(*) FILTER (WHERE outcome = 'duplicate')::int AS duplicate,
         count(*) FILTER (WHERE outcome = 'suppressed')::int AS suppressed,
         count(*) FILTER (WHERE reason = 'invalid_phone')::int AS invalid_phone,
         count(*) FILTER (WHERE reason = 'missing_param')::int AS missing_param,
         count(*) FILTER (WHERE reason = 'invalid_param')::int AS invalid_param,
         count(*) FILTER (WHERE reason = 'malformed_row')::int AS malformed_row
  FROM recipients WHERE campaign_id = $1
) s
WHERE c.id = $1 AND c.ingest_state = 'validating' AND c.ingest_next_seq = c.ingest_chunks
RETURNING c.*;

-- name: campaign_errors_sample
SELECT line, reason, detail FROM recipients
WHERE campaign_id = $1 AND outcome = 'invalid'
ORDER BY line LIMIT $2;

-- name: campaign_start
-- draft|scheduled -> running. It may start while its file is still being validated: validated rows are
-- sent while the rest is checked (it completes only once ingest is done).
-- Workers LISTEN on campaign_wake and pick the campaign up at once instead of at their next scan.
WITH s AS (
  UPDATE campaigns SET state = 'running', started_at = coalesce(started_at, now()), start_at = NULL
  WHERE id = $1 AND state IN ('draft', 'scheduled') AND cron IS NULL
  RETURNING *
), wake AS (SELECT pg_notify('campaign_wake', id::text) FROM s)
SELECT s.*, (SELECT count(*) FROM wake) AS woken FROM s;

-- name: campaign_schedule
-- draft -> scheduled at $2.
UPDATE campaigns SET state = 'scheduled', start_at = $2
WHERE id = $1 AND state IN ('draft', 'scheduled') AND cron IS NULL
RETURNING *;

-- name: campaign_start_due
-- scheduled -> running for every campaign whose time has come (a worker that was down starts them late).
UPDATE campaigns SET state = 'running', started_at = now(), start_at = NULL
WHERE state = 'scheduled' AND start_at <= now()
RETURNING id;

-- name: campaign_pause
-- running|scheduled -> paused, with the reason shown by report and list. A scheduled campaign keeps its
-- start time (start_at), so that resuming it before then schedules it again instead of sending at once.
UPDATE campaigns SET state = 'paused', pause_reason = $2, started_at = coalesce(started_at, now())
WHERE id = $1 AND state IN ('running', 'scheduled')
RETURNING *;

-- name: campaign_resume
-- paused -> running; or -> scheduled for a campaign paused while it waited for a start time that has not
-- come yet (it never sent: started_at back to NULL). Recurring campaigns resume through schedule_resume.
WITH s AS (
  UPDATE campaigns SET
    state = (CASE WHEN start_at > now() THEN 'scheduled' ELSE 'running' END)::campaign_state,
    started_at = CASE WHEN start_at > now() THEN NULL ELSE started_at END,
    start_at = CASE WHEN start_at > now() THEN start_at END,
    pause_reason = NULL
  WHERE id = $1 AND state = 'paused' AND cron IS NULL
  RETURNING *
), wake AS (SELECT pg_notify('campaign_wake', id::text) FROM s WHERE state = 'running')
SELECT s.*, (SELECT count(*) FROM wake) AS woken FROM s;

-- name: campaign_cancel
UPDATE campaigns SET state = 'cancelled', cancelled_at = now(), pause_reason = NULL
WHERE id = $1 AND state IN ('draft', 'scheduled', 'running', 'paused')
RETURNING *;

-- name: campaign_complete_if_done
-- running -> completed once no recipient is queued or sending.
-- The xmin condition completes only the version of the campaign row this statement's snapshot saw.
-- `campaign retry` requeues failed rows and rewrites the campaign row in one transaction; a completion
-- whose snapshot predates that commit still sees those rows as failed, waits for the row lock, and then
-- (READ COMMITTED) rechecks only the campaign row, not the subqueries: without the guard it would complete
-- a campaign whose queued rows nothing ever claims again. With it, it changes nothing and the next send
-- run looks again.
UPDATE campaigns c SET state = 'completed', completed_at = now()
WHERE c.id = $1 AND c.state = 'running' AND c.ingest_state = 'done'
  AND NOT EXISTS (SELECT 1 FROM recipients WHERE campaign_id = $1 AND status = 'queued')
  AND NOT EXISTS (SELECT 1 FROM recipients WHERE campaign_id = $1 AND status = 'sending')
  AND c.xmin = (SELECT s.xmin FROM campaigns s WHERE s.id = $1)
RETURNING id;

-- name: campaign_lock
-- The state, with the campaign row locked until the transaction ends: `campaign retry` decides on a state
-- that no pause, cancel or completion can change before it commits.
SELECT state FROM campaigns WHERE id = $1 FOR UPDATE;

-- name: campaign_retry_reopen
-- In the transaction where `campaign retry` requeued rows: completed -> running (completed_at cleared);
-- running and paused stay as they are (a paused campaign sends them once resumed). Every case writes a new
-- version of the campaign row, which is what makes a concurrent campaign_complete_if_done stand down.
-- Workers are woken, as by campaign_start, when it is running.
WITH s AS (
  UPDATE campaigns SET state = CASE WHEN state = 'completed' THEN 'running'::campaign_state ELSE state END,
         completed_at = NULL
  WHERE id = $1 AND state IN ('running', 'paused', 'completed')
  RETURNING *
), wake AS (SELECT pg_notify('campaign_wake', id::text) FROM s WHERE state = 'running')
SELECT s.*, (SELECT count(*) FROM wake) AS woken FROM s;

-- name: campaign_list_running
SELECT id, channel FROM campaigns WHERE state = 'running' ORDER BY started_at;

-- name: campaign_state
SELECT state FROM campaigns WHERE id = $1;

-- name: campaign_list
SELECT c.id, c.name, c.state, c.created_at, c.pause_reason, c.parent_id, c.cron, c.cron_tz, c.next_run_at,
       c.ingest_accepted
FROM campaigns c ORDER BY c.created_at DESC, c.id LIMIT $1;
