-- 0013_timeline: per-minute counts for the report page's chart (GET /campaigns/:id), maintained like the
-- report's counters (0007_report_counters) instead of counted from the rows on every request.
--
-- Why: the chart shows, per minute, the requests sent (send_attempts.started_at) and the statuses reached
-- (recipients.sent_at, delivered_at, read_at, and failed_at of failed rows). Counted from the rows, that
-- is linear in the campaign whatever the time window, since a big campaign's rows all fall in its last 24 h
-- (measured, PostgreSQL 15, 2 vCPUs, warm cache, 1,000,000 recipients + 1,000,000 attempts: 0.43 s for
-- the requests, 1.38 s for the four status times; an index cannot help, every row is in the window). The
-- page refreshes every 5 s while a campaign runs. Read from these counters it is two index range reads of
-- at most 1,440 minutes × 5 series (5 ms for that campaign, from Node; see sql/queries/timeline.sql).
--
-- How: statement triggers over transition tables append the change each statement made, already summed
-- per (campaign, minute, series), to campaign_minute_deltas; maintenance folds the deltas into
-- campaign_minute_counts (src/report/counters.ts, with the report's counters). Minutes are UTC minutes
-- (date_trunc(..., 'UTC'): the same whatever the session's TimeZone). The statuses are the recipients'
-- current times, so a time that moves (a late status with an earlier provider time, a failed row sent
-- again) moves its count: old minute -1, new minute +1, in the same statement.
--
-- Cost on the write path (PostgreSQL 15, 2 vCPUs shared with other load; server-side loops of 2,000
-- one-row statements with these triggers enabled and disabled, interleaved, six rounds, medians):
--   one-row UPDATE of recipients that changes none of the times (a claim, an in-flight mark):  81 -> 106 µs
--   one-row UPDATE that moves a time (a status applied):                                       99 -> 110 µs
--   one-row INSERT into send_attempts (attempt_start):                                          53 -> 71 µs
-- So about +0.07 ms of database time per message sent (attempt_start, its answer), less with the
-- sender's group commit (one statement, so one trigger call, for many rows); a COPY of an ingest chunk
-- appends nothing (new rows have no status times) for one scan of its transition table.

LOCK TABLE recipients, send_attempts IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE campaign_minute_counts (
  campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  minute      timestamptz NOT NULL,
  -- 'requests', 'sent', 'delivered', 'read', 'failed'
  kind        text NOT NULL,
  n           bigint NOT NULL,
  PRIMARY KEY (campaign_id, minute, kind)
);

-- Appended by the triggers, deleted by compaction (by ctid, as campaign_count_deltas). The index serves
-- both the reader (a campaign's pending deltas in its window) and the compaction's campaign lookups.
CREATE TABLE campaign_minute_deltas (
  campaign_id uuid NOT NULL,
  minute      timestamptz NOT NULL,
  kind        text NOT NULL,
  n           bigint NOT NULL CHECK (n <> 0)
);
CREATE INDEX campaign_minute_deltas_campaign ON campaign_minute_deltas (campaign_id, minute);

-- recipients: the four status times of a row, as (kind, time) pairs; a failed_at only while the row is
-- failed (a row that failed and was then delivered, or sent again, counts where it stands).
CREATE FUNCTION recipients_minute_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO campaign_minute_deltas (campaign_id, minute, kind, n)
    SELECT r.campaign_id, date_trunc('minute', v.t, 'UTC'), v.kind, count(*)
    FROM new_rows r
    CROSS JOIN LATERAL (VALUES ('sent', r.sent_at), ('delivered', r.delivered_at), ('read', r.read_at),
                               ('failed', CASE WHEN r.status = 'failed' THEN r.failed_at END)) v (kind, t)
    WHERE v.t IS NOT NULL
    GROUP BY 1, 2, 3;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO campaign_minute_deltas (campaign_id, minute, kind, n)
    SELECT r.campaign_id, date_trunc('minute', v.t, 'UTC'), v.kind, -count(*)
    FROM old_rows r
    CROSS JOIN LATERAL (VALUES ('sent', r.sent_at), ('delivered', r.delivered_at), ('read', r.read_at),
                               ('failed', CASE WHEN r.status = 'failed' THEN r.failed_at END)) v (kind, t)
    WHERE v.t IS NOT NULL
    GROUP BY 1, 2, 3;
  ELSE
    INSERT INTO campaign_minute_deltas (campaign_id, minute, kind, n)
    SELECT campaign_id, date_trunc('minute', t, 'UTC'), kind, sum(n)
    FROM (
      SELECT r.campaign_id, v.kind, v.t, -1 AS n
      FROM old_rows r
      CROSS JOIN LATERAL (VALUES ('sent', r.sent_at), ('delivered', r.delivered_at), ('read', r.read_at),
                                 ('failed', CASE WHEN r.status = 'failed' THEN r.failed_at END)) v (kind, t)
      WHERE v.t IS NOT NULL
      UNION ALL
      SELECT r.campaign_id, v.kind, v.t, 1
      FROM new_rows r
      CROSS JOIN LATERAL (VALUES ('sent', r.sent_at), ('delivered', r.delivered_at), ('read', r.read_at),
                                 ('failed', CASE WHEN r.status = 'failed' THEN r.failed_at END)) v (kind, t)
      WHERE v.t IS NOT NULL
    ) x
    GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER recipients_minute_insert AFTER INSERT ON recipients
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recipients_minute_changes();
CREATE TRIGGER recipients_minute_update AFTER UPDATE ON recipients
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recipients_minute_changes();
CREATE TRIGGER recipients_minute_delete AFTER DELETE ON recipients
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION recipients_minute_changes();

-- send_attempts: one 'requests' count per row, at its started_at. The UPDATEs that finish an attempt
-- change neither column, so no trigger runs for them; one that does (nothing does today) counts row by row.
CREATE FUNCTION send_attempts_minute_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO campaign_minute_deltas (campaign_id, minute, kind, n)
    SELECT campaign_id, date_trunc('minute', started_at, 'UTC'), 'requests', count(*)
    FROM new_rows GROUP BY 1, 2;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO campaign_minute_deltas (campaign_id, minute, kind, n)
    SELECT campaign_id, date_trunc('minute', started_at, 'UTC'), 'requests', -count(*)
    FROM old_rows GROUP BY 1, 2;
  ELSE
    INSERT INTO campaign_minute_deltas (campaign_id, minute, kind, n)
    VALUES (OLD.campaign_id, date_trunc('minute', OLD.started_at, 'UTC'), 'requests', -1),
           (NEW.campaign_id, date_trunc('minute', NEW.started_at, 'UTC'), 'requests', 1);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER send_attempts_minute_insert AFTER INSERT ON send_attempts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION send_attempts_minute_changes();
CREATE TRIGGER send_attempts_minute_delete AFTER DELETE ON send_attempts
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION send_attempts_minute_changes();
CREATE TRIGGER send_attempts_minute_update AFTER UPDATE OF campaign_id, started_at ON send_attempts
  FOR EACH ROW WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id
                     OR date_trunc('minute', OLD.started_at, 'UTC') IS DISTINCT FROM date_trunc('minute', NEW.started_at, 'UTC'))
  EXECUTE FUNCTION send_attempts_minute_changes();

-- TRUNCATE fires no DML trigger: forget what the truncated table counted.
CREATE FUNCTION minute_changes_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'send_attempts' THEN
    DELETE FROM campaign_minute_deltas WHERE kind = 'requests';
    DELETE FROM campaign_minute_counts WHERE kind = 'requests';
  ELSE
    DELETE FROM campaign_minute_deltas WHERE kind <> 'requests';
    DELETE FROM campaign_minute_counts WHERE kind <> 'requests';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER recipients_minute_truncate AFTER TRUNCATE ON recipients
  FOR EACH STATEMENT EXECUTE FUNCTION minute_changes_truncated();
CREATE TRIGGER send_attempts_minute_truncate AFTER TRUNCATE ON send_attempts
  FOR EACH STATEMENT EXECUTE FUNCTION minute_changes_truncated();

-- Backfill every existing campaign, straight into the counters.
INSERT INTO campaign_minute_counts (campaign_id, minute, kind, n)
SELECT r.campaign_id, date_trunc('minute', v.t, 'UTC'), v.kind, count(*)
FROM recipients r
JOIN campaigns c ON c.id = r.campaign_id
CROSS JOIN LATERAL (VALUES ('sent', r.sent_at), ('delivered', r.delivered_at), ('read', r.read_at),
                           ('failed', CASE WHEN r.status = 'failed' THEN r.failed_at END)) v (kind, t)
WHERE v.t IS NOT NULL
GROUP BY 1, 2, 3;

INSERT INTO campaign_minute_counts (campaign_id, minute, kind, n)
SELECT a.campaign_id, date_trunc('minute', a.started_at, 'UTC'), 'requests', count(*)
FROM send_attempts a JOIN campaigns c ON c.id = a.campaign_id
GROUP BY 1, 2;
