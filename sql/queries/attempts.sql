-- Each send moves a recipient queued -> sending/claimed -> sending/in_flight -> (outcome), and records
-- the attempt before the request leaves. Every statement is guarded by the state it expects, so a row
-- that changed hands (rescued, paused, released) is never overwritten by a late answer; and by the
-- attempt it answers (`attempts = $3`), since `campaign retry --ambiguous` can send a row again while an
-- earlier request's answer is still on its way (a worker that stalled past its heartbeat).

-- name: attempt_start_many
-- claimed -> in_flight, with the attempt recorded, for one or several rows (the sender's group commit:
-- requests whose grants came together share one statement and one commit). $1 campaign, $2 lines, $3
-- worker. Only while the campaign runs and the claim is still ours. Returns each started row's line and
-- attempt; a line missing from the answer must not be sent.
WITH r AS (
  UPDATE recipients SET send_phase = 'in_flight', attempts = attempts + 1, updated_at = now()
  WHERE campaign_id = $1 AND line = ANY ($2::int[]) AND status = 'sending' AND send_phase = 'claimed' AND claimed_by = $3
    AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = $1 AND c.state = 'running')
  RETURNING campaign_id, line, attempts
)
INSERT INTO send_attempts (campaign_id, line, attempt, worker)
SELECT campaign_id, line, attempts, $3 FROM r
RETURNING line, attempt;

-- name: attempt_finish_accepted_many
-- One or several answers with a message id: $1 campaign, $2 lines, $3 attempts, $4 message ids, $5 http
-- statuses, $6 when each request left (epoch ms, see migration 0018); arrays of one length. A row the
-- rescuer marked ambiguous meanwhile is settled by the answer that did come back; so is one that `retry
-- --ambiguous` put back in the queue and that has not been sent again yet (queued or claimed, still at
-- this attempt): the message went out, and attempt_start_many will find nothing to send.
-- Both updates find their rows by key, whatever the statistics say. Before, a campaign the statistics
-- did not know yet (autovacuum re-analyzes a table once a tenth of it changed) made every batch read more
-- the further the campaign got: its attempts were found by a bitmap scan of all the campaign's attempts,
-- and its recipients through the queued and sending partial indexes, whose entries for rows that left
-- those states stay until vacuum. `npm run bench:send-sql -- --history 1000000`: 48 µs a message in the
-- first tenth of a 100k campaign, 373 µs in the last; now 42 and 44. So the recipients' guard is written
-- `status IN ('queued', 'sending') AND send_phase IS DISTINCT FROM 'retry_wait'` (the same rows: a queued
-- row has no phase, by the CHECKs), which implies neither partial index's predicate and leaves the key
-- and the line array as the way in; and each attempt's id comes from one probe of its unique key (a
-- correlated subquery cannot become a scan of the campaign).
WITH k AS (
  SELECT * FROM unnest($2::int[], $3::int[], $4::text[], $5::int[], $6::float8[]) AS k (line, attempt, message_id, http, written_ms)
), r AS (
  UPDATE recipients rc SET status = 'accepted', send_phase = NULL, claimed_by = NULL, claimed_at = NULL,
         retry_at = NULL, message_id = k.message_id, accepted_at = now(), error_code = NULL, error_title = NULL, updated_at = now()
  FROM k
  WHERE rc.campaign_id = $1 AND rc.line = ANY ($2::int[]) AND rc.line = k.line AND rc.attempts = k.attempt
    AND rc.status IN ('queued', 'sending') AND rc.send_phase IS DISTINCT FROM 'retry_wait'
  RETURNING rc.line
)
UPDATE send_attempts a SET finished_at = now(), result = 'accepted', http_status = k.http, message_id = k.message_id,
       written_at = to_timestamp(k.written_ms / 1000)
FROM k
WHERE a.id = ANY (ARRAY(SELECT (SELECT x.id FROM send_attempts x WHERE x.campaign_id = $1 AND x.line = k.line AND x.attempt = k.attempt) FROM k))
  AND a.line = k.line AND a.attempt = k.attempt;

-- name: attempt_finish_wait
-- $1 campaign, $2 line, $3 attempt, $4 result ('retry'|'delay'|'ambiguous'), $5 http status, $6 code,
-- $7 title, $8 seconds to wait, $9 free: the attempt does not use up the row's budget (the channel's
-- breaker is open: the provider is down, not this message's fault; attempt_base moves up with attempts),
-- $10 when the request left (epoch ms; null if it never did).
-- The row stays `sending`: waiting for its retry, or for a status webhook that settles an ambiguous request.
WITH r AS (
  UPDATE recipients SET send_phase = (CASE WHEN $4 = 'ambiguous' THEN 'ambiguous' ELSE 'retry_wait' END)::send_phase,
         attempt_base = attempt_base + (CASE WHEN $9::boolean THEN 1 ELSE 0 END),
         claimed_by = NULL, claimed_at = NULL, retry_at = now() + make_interval(secs => $8),
         error_code = $6, error_title = $7, updated_at = now()
  WHERE campaign_id = $1 AND line = $2 AND attempts = $3 AND status = 'sending' AND send_phase = 'in_flight'
  RETURNING line
)
UPDATE send_attempts SET finished_at = now(), result = $4, http_status = $5, error_code = $6, error_title = $7,
       written_at = to_timestamp($10::float8 / 1000)
WHERE campaign_id = $1 AND line = $2 AND attempt = $3;

-- name: attempt_finish_failed
-- $1 campaign, $2 line, $3 attempt, $4 http status, $5 code, $6 title, $7 when the request left (epoch
-- ms; null if it never did).
WITH r AS (
  UPDATE recipients SET status = 'failed', send_phase = NULL, claimed_by = NULL, claimed_at = NULL, retry_at = NULL,
         failed_at = now(), error_code = $5, error_title = $6, updated_at = now()
  WHERE campaign_id = $1 AND line = $2 AND attempts = $3 AND status = 'sending' AND send_phase = 'in_flight'
  RETURNING line
)
UPDATE send_attempts SET finished_at = now(), result = 'failed', http_status = $4, error_code = $5, error_title = $6,
       written_at = to_timestamp($7::float8 / 1000)
WHERE campaign_id = $1 AND line = $2 AND attempt = $3;

-- name: attempt_finish_requeue
-- $1 campaign, $2 line, $3 attempt, $4 http status, $5 code, $6 title, $7 when the request left (epoch
-- ms). The provider refused the request for a reason that pauses the campaign: nothing went out, so the
-- recipient waits in the queue.
WITH r AS (
  UPDATE recipients SET status = 'queued', send_phase = NULL, claimed_by = NULL, claimed_at = NULL, retry_at = NULL,
         updated_at = now()
  WHERE campaign_id = $1 AND line = $2 AND attempts = $3 AND status = 'sending' AND send_phase = 'in_flight'
  RETURNING line
)
UPDATE send_attempts SET finished_at = now(), result = 'paused', http_status = $4, error_code = $5, error_title = $6,
       written_at = to_timestamp($7::float8 / 1000)
WHERE campaign_id = $1 AND line = $2 AND attempt = $3;
