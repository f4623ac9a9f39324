-- name: recipient_claim_batch
-- Claim up to $3 rows for worker $2: retry-waiting rows that are due first, then queued rows in file
-- order. SKIP LOCKED lets any number of workers claim side by side; nothing is claimed unless the
-- campaign is running.
WITH retry AS (
  SELECT line FROM recipients
  WHERE campaign_id = $1 AND status = 'sending' AND send_phase = 'retry_wait' AND retry_at <= now()
  ORDER BY retry_at LIMIT $3 FOR UPDATE SKIP LOCKED
), queued AS (
  SELECT line FROM recipients
  WHERE campaign_id = $1 AND status = 'queued'
  ORDER BY line LIMIT $3 FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT line FROM (SELECT line FROM retry UNION ALL SELECT line FROM queued) u LIMIT $3
)
UPDATE recipients r SET status = 'sending', send_phase = 'claimed', claimed_by = $2, claimed_at = now(),
       retry_at = NULL, updated_at = now()
FROM picked
WHERE r.campaign_id = $1 AND r.line = picked.line
  AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = $1 AND c.state = 'running')
RETURNING r.line, r.phone_e164, r.params, r.attempts;

-- name: recipient_release_claimed
-- Give back rows this worker claimed but never sent (shutdown, pause): they were not attempted.
UPDATE recipients SET status = 'queued', send_phase = NULL, claimed_by = NULL, claimed_at = NULL, updated_at = now()
WHERE campaign_id = $1 AND line = ANY ($2::int[]) AND status = 'sending' AND send_phase = 'claimed' AND claimed_by = $3;

-- name: recipient_next_retry_at
SELECT min(retry_at) AS at FROM recipients
WHERE campaign_id = $1 AND status = 'sending' AND send_phase = 'retry_wait';

-- name: recipient_rescue_claims
-- Rows claimed by a worker that stopped beating and never sent: back to the queue.
UPDATE recipients r SET status = 'queued', send_phase = NULL, claimed_by = NULL, claimed_at = NULL, updated_at = now()
WHERE r.status = 'sending' AND r.send_phase = 'claimed'
  AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = r.claimed_by AND w.heartbeat_at > now() - make_interval(secs => $1))
RETURNING r.campaign_id;

-- name: recipient_rescue_in_flight
-- Rows whose request left from a worker that died: the message may have gone out. They become ambiguous
-- and wait $2 seconds for a status webhook to settle them; they are never resent blindly.
WITH r AS (
  UPDATE recipients r SET send_phase = 'ambiguous', claimed_by = NULL, claimed_at = NULL,
         retry_at = now() + make_interval(secs => $2), updated_at = now()
  WHERE r.status = 'sending' AND r.send_phase = 'in_flight'
    AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = r.claimed_by AND w.heartbeat_at > now() - make_interval(secs => $1))
  RETURNING r.campaign_id, r.line, r.attempts
)
UPDATE send_attempts a SET finished_at = now(), result = 'ambiguous'
FROM r WHERE a.campaign_id = r.campaign_id AND a.line = r.line AND a.attempt = r.attempts AND a.finished_at IS NULL
RETURNING a.campaign_id;

-- name: recipient_settle_ambiguous
-- The settle window passed with no status: failed with code `ambiguous`; `retry --ambiguous` may resend.
UPDATE recipients SET status = 'failed', send_phase = NULL, retry_at = NULL, failed_at = now(),
       error_code = 'ambiguous', error_title = 'No answer after the request was sent; it may have been delivered',
       updated_at = now()
WHERE status = 'sending' AND send_phase = 'ambiguous' AND retry_at <= now()
RETURNING campaign_id;

-- name: recipient_outcome_counts
-- Outcome counts from the rows themselves: the report's ingest figures while a file is still being
-- validated, and where a resumed ingest picks up its progress.
SELECT count(*)::int AS rows,
       count(*) FILTER (WHERE outcome = 'accepted')::int AS accepted,
       count(*) FILTER (WHERE outcome = 'invalid')::int AS invalid,
       count(*) FILTER (WHERE outcome = 'duplicate')::int AS duplicate,
       count(*) FILTER (WHERE outcome = 'suppressed')::int AS suppressed,
       jsonb_build_object(
         'invalid_phone', count(*) FILTER (WHERE reason = 'invalid_phone'),
         'missing_param', count(*) FILTER (WHERE reason = 'missing_param'),
         'invalid_param', count(*) FILTER (WHERE reason = 'invalid_param'),
         'malformed_row', count(*) FILTER (WHERE reason = 'malformed_row')) AS invalid_reasons
FROM recipients WHERE campaign_id = $1;

-- name: recipient_attempt_base
-- Where the row's attempt budget starts (see record.ts): `campaign retry` moves it up to `attempts`.
SELECT attempt_base FROM recipients WHERE campaign_id = $1 AND line = $2;

-- name: recipient_failed_causes
-- What the recipients that failed before WhatsApp took their message failed of: each stored code with the
-- HTTP status of the last request (the classifier needs both to judge a code), and how many. Rows with a
-- message id failed after WhatsApp accepted them (a failed status): `campaign retry` never resends those,
-- WhatsApp has already decided about that message.
SELECT r.error_code AS code, a.http_status AS http, count(*)::int AS n
FROM recipients r
LEFT JOIN send_attempts a ON a.campaign_id = r.campaign_id AND a.line = r.line AND a.attempt = r.attempts
WHERE r.campaign_id = $1 AND r.status = 'failed' AND r.message_id IS NULL
GROUP BY r.error_code, a.http_status
ORDER BY n DESC, code;

-- name: recipient_requeue_failed
-- `campaign retry`: back to the queue, in one statement, every failed row whose (code, last HTTP status)
-- is one of the pairs $2/$3 picked from recipient_failed_causes, and with $4 (`--ambiguous`) the rows still
-- waiting in sending/ambiguous for their settle window. attempt_base = attempts gives each a fresh attempt
-- budget; `attempts` itself keeps counting, so send_attempts numbering stays monotonic. Returns the code
-- each row was requeued from. The guard repeats the states: a row a webhook or a late answer moved
-- meanwhile is left alone.
WITH causes AS (
  SELECT * FROM unnest($2::text[], $3::int[]) AS p (code, http)
), pick AS (
  SELECT r.line, r.error_code AS code
  FROM recipients r
  LEFT JOIN send_attempts a ON a.campaign_id = r.campaign_id AND a.line = r.line AND a.attempt = r.attempts
  JOIN causes p ON p.code = r.error_code AND p.http IS NOT DISTINCT FROM a.http_status
  WHERE r.campaign_id = $1 AND r.status = 'failed' AND r.message_id IS NULL
  UNION ALL
  SELECT line, 'ambiguous' FROM recipients
  WHERE $4::boolean AND campaign_id = $1 AND status = 'sending' AND send_phase = 'ambiguous'
)
UPDATE recipients r SET status = 'queued', send_phase = NULL, retry_at = NULL, failed_at = NULL,
       error_code = NULL, error_title = NULL, attempt_base = r.attempts, updated_at = now()
FROM pick
WHERE r.campaign_id = $1 AND r.line = pick.line
  AND ((r.status = 'failed' AND r.message_id IS NULL) OR (r.status = 'sending' AND r.send_phase = 'ambiguous'))
RETURNING pick.code;
