-- name: status_inbox_insert
-- Store a flush of webhooks' statuses, durably, as one inbox row: $1 how many, $2 a JSON array of rows
-- {p provider, m message id, s status, t occurred at, r recipient, c error code, e error title, raw}
-- (src/callbacks/store.ts statusesJson). Reconcile expands it (status_inbox_expand).
-- prepared
INSERT INTO status_inbox (events, body) VALUES ($1, $2);

-- name: status_inbox_expand
-- Move up to $1 inbox rows, oldest first (only row $2 when given; none past id $3 when given), into
-- status_events (each status keeps the time its webhook was received, and the order it came in) and the
-- reconcile queue, in one statement: an inbox row is deleted exactly when its events exist. Rows refused
-- before (`error`) are skipped. Safe in several reconcilers at once (SKIP LOCKED).
WITH taken AS (
  DELETE FROM status_inbox
  WHERE id IN (
    SELECT id FROM status_inbox
    WHERE error IS NULL AND ($2::bigint IS NULL OR id = $2) AND ($3::bigint IS NULL OR id <= $3)
    ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
  )
  RETURNING id, received_at, body
), ins AS (
  INSERT INTO status_events (received_at, provider, message_id, status, occurred_at, recipient_id, error_code, error_title, raw)
  SELECT t.received_at, x.p, x.m, x.s, x.t, x.r, x.c, x.e, coalesce(x.raw, 'null'::json)  -- JSON null reads as SQL NULL
  FROM taken t CROSS JOIN LATERAL ROWS FROM (
    json_to_recordset(t.body::json) AS (p text, m text, s text, t timestamptz, r text, c text, e text, raw json)
  ) WITH ORDINALITY AS x(p, m, s, t, r, c, e, raw, n)
  ORDER BY t.id, x.n
  RETURNING id, message_id
), queued AS (
  INSERT INTO status_event_queue (event_id, message_id) SELECT id, message_id FROM ins RETURNING 1
)
SELECT (SELECT count(*) FROM taken)::int AS rows, (SELECT count(*) FROM queued)::int AS events;

-- name: status_inbox_pending
-- The next $1 inbox rows to expand, one by one (after a batch was refused), none past id $2 when given.
SELECT id FROM status_inbox WHERE error IS NULL AND ($2::bigint IS NULL OR id <= $2) ORDER BY id LIMIT $1;

-- name: status_inbox_last_id
-- The newest inbox row: a reconcile run expands up to it and leaves later rows to the next run.
SELECT max(id) AS id FROM status_inbox;

-- name: status_inbox_refuse
-- Keep inbox row $1, which PostgreSQL refused to expand with $2, out of the way of the others.
UPDATE status_inbox SET error = $2 WHERE id = $1;

-- name: inbound_windows_touch
INSERT INTO inbound_windows (phone, last_inbound_at)
SELECT * FROM unnest($1::text[], $2::timestamptz[])
ON CONFLICT (phone) DO UPDATE SET last_inbound_at = greatest(inbound_windows.last_inbound_at, EXCLUDED.last_inbound_at);

-- name: status_events_apply_batch
-- Apply up to $1 queued events whose message id is recorded, then drop them from the queue. Events for
-- unknown ids stay queued until the send that produced the id is recorded (the webhook can beat the send
-- response). Idempotent and order-free: the furthest status wins (recipient_status_rank), a lower one that
-- arrives late only fills in its timestamp, `read` implies `delivered` implies `sent`.
-- Events for a message id that a re-send replaced (it is only in send_attempts now) are dropped with the
-- others: they no longer describe the recipient's message. Returns how many events were consumed, and
-- the updated recipients that are now failed, with their error, for the follow-ups
-- (src/reconcile/follow-up.ts): only those have any, and a JSON array of every updated row (2,500 per
-- batch at two statuses a message) would be built here and parsed on the worker's event loop for nothing.
-- Every batch touches only its own rows, through indexes: OFFSET 0 keeps each EXISTS a probe of its
-- message_id index (PostgreSQL otherwise hashes all of recipients for it), and `= ANY (ARRAY(...))` makes
-- the DELETE and the UPDATE look their rows up by key instead of hash-joining a scan of the whole queue
-- and the whole table, once per batch. `npm run bench:apply` (100k recipients, 2026-12-06, PostgreSQL 15),
-- backend CPU to apply all: two statuses a message 6.1–8.1 s before, 2.9–4.5 s after; one a message
-- 3.9–6.1 s before, 2.3–2.4 s after.
WITH picked AS (
  SELECT q.event_id FROM status_event_queue q
  WHERE EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = q.message_id OFFSET 0)
     OR EXISTS (SELECT 1 FROM send_attempts a WHERE a.message_id = q.message_id OFFSET 0)
  ORDER BY q.event_id LIMIT $1
  FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM status_event_queue q WHERE q.event_id = ANY (ARRAY(SELECT event_id FROM picked)) RETURNING q.event_id
), agg AS (
  SELECT e.message_id,
         (array_agg(e.status::recipient_status ORDER BY recipient_status_rank(e.status::recipient_status) DESC, e.id))[1] AS top,
         min(coalesce(e.occurred_at, e.received_at)) FILTER (WHERE e.status = 'sent') AS sent_at,
         min(coalesce(e.occurred_at, e.received_at)) FILTER (WHERE e.status = 'delivered') AS delivered_at,
         min(coalesce(e.occurred_at, e.received_at)) FILTER (WHERE e.status = 'read') AS read_at,
         min(coalesce(e.occurred_at, e.received_at)) FILTER (WHERE e.status = 'failed') AS failed_at,
         (array_agg(e.error_code ORDER BY e.id) FILTER (WHERE e.status = 'failed'))[1] AS error_code,
         (array_agg(e.error_title ORDER BY e.id) FILTER (WHERE e.status = 'failed'))[1] AS error_title
  FROM status_events e JOIN gone g ON g.event_id = e.id
  GROUP BY e.message_id
), upd AS (
UPDATE recipients r SET
  status = CASE WHEN recipient_status_rank(a.top) > recipient_status_rank(r.status) THEN a.top ELSE r.status END,
  -- The earliest known time of each step (least() ignores NULLs): a `sent` that arrives after `delivered`
  -- replaces the time that `delivered` implied.
  sent_at = least(r.sent_at, a.sent_at, a.delivered_at, a.read_at),
  delivered_at = least(r.delivered_at, a.delivered_at, a.read_at),
  read_at = least(r.read_at, a.read_at),
  failed_at = CASE WHEN a.top = 'failed' AND recipient_status_rank(r.status) <= recipient_status_rank('failed')
                   THEN least(r.failed_at, coalesce(a.failed_at, now())) ELSE r.failed_at END,
  error_code = CASE WHEN a.top = 'failed' AND recipient_status_rank(r.status) < recipient_status_rank('failed')
                    THEN a.error_code ELSE r.error_code END,
  error_title = CASE WHEN a.top = 'failed' AND recipient_status_rank(r.status) < recipient_status_rank('failed')
                     THEN a.error_title ELSE r.error_title END,
  updated_at = now()
FROM agg a
WHERE r.message_id = a.message_id AND r.message_id = ANY (ARRAY(SELECT message_id FROM agg))
RETURNING r.campaign_id, r.line, r.phone_e164, r.status::text AS status, r.error_code
)
SELECT (SELECT count(*) FROM gone)::int AS applied,
       coalesce((SELECT json_agg(upd) FROM upd WHERE status = 'failed'), '[]'::json) AS updated;

-- name: recipient_resend_after_callback
-- $1 campaign ids, $2 lines, $3 attempts a cause allows (record.ts MAX_ATTEMPTS). A failed status that
-- means "never delivered, send again" (408 pending too long, Verihubs 7/8/10): failed -> sending/retry_wait
-- through the normal retry path, while the row's budget (attempts since attempt_base) lasts; the backoff
-- doubles per attempt up to a minute. The failed message id is dropped (its late statuses are recognised
-- through send_attempts). Rows over budget stay failed.
UPDATE recipients r SET status = 'sending', send_phase = 'retry_wait',
       retry_at = now() + make_interval(secs => least(60, 2 ^ greatest(0, r.attempts - r.attempt_base))),
       message_id = NULL, failed_at = NULL, claimed_by = NULL, claimed_at = NULL, updated_at = now()
FROM unnest($1::uuid[], $2::int[]) AS k (campaign_id, line)
WHERE r.campaign_id = k.campaign_id AND r.line = k.line AND r.status = 'failed'
  AND r.attempts - r.attempt_base < $3
RETURNING r.campaign_id, r.line;

-- name: status_event_queue_depth
-- Statuses stored and not applied yet: in the queue, or still in the inbox (refused rows included).
SELECT ((SELECT count(*) FROM status_event_queue) + (SELECT coalesce(sum(events), 0) FROM status_inbox))::int AS depth;
