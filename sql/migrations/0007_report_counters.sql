-- 0007_report_counters: the report's counts from maintained counters instead of a scan of the campaign.
--
-- Why: `campaign report` counted recipients and send_attempts with GROUP BY on every call, linear in the
-- campaign (B6: 1,000,000 recipients). Now each statement that changes recipients or send_attempts appends
-- the change it made to the counts, already summed over its rows, to campaign_count_deltas; maintenance
-- folds those deltas into campaign_counts every tick (src/report/counters.ts); the report reads the
-- campaign's counters plus its pending deltas, a few dozen rows whatever the campaign's size.
--
-- Why a log of deltas and not one counter row per campaign updated in place: every send updates its
-- recipient two or three times; a shared counter row would make every worker of a campaign queue on that
-- row's lock until its transaction ends. Appending never waits for anyone; only the compaction, which
-- runs outside the hot path, takes locks on counter rows.
--
-- Why statement-level triggers over transition tables: one aggregate per statement, so a COPY of 20k rows
-- appends a handful of delta rows, not 20k (row-level triggers would call a function per row).
--
-- Measured overhead (PostgreSQL 15, 2 vCPUs shared with other load, local TCP; the same statements with
-- these triggers enabled and disabled, interleaved, in throwaway scripts; CPU = the backend's user +
-- system time from /proc, less disturbed by the other load than wall time):
--   one-row UPDATE that moves a row between counts (claimed -> in_flight):
--       server-side loop 92 -> 119 µs per statement; backend CPU 0.125 -> 0.199 ms (+0.03 to +0.07 ms)
--   one-row UPDATE that moves nothing (still one trigger call, no delta row):    CPU +0.02 ms
--   attempt_start (one-row UPDATE + INSERT into send_attempts, two triggers):    CPU 0.113 -> 0.191 ms (+0.08 ms)
--   UPDATE of 50 rows (a claim batch):                                           CPU 1.05 -> 1.15 ms (+9 %)
--   COPY of 20,000 rows (an ingest chunk): CPU 169 -> 179 ms in one run, 214 -> 212 ms in another (≤ +6 %);
--       the aggregate itself is ~5 ms (EXPLAIN ANALYZE); the NEW TABLE is already captured for 0003's check.
-- So about +0.15 ms of database CPU per message sent (attempt_start + its answer), paid per statement,
-- never per row, and no lock shared between workers. A row-level trigger (WHEN the key changes) measured
-- no cheaper on one-row UPDATEs (120 µs) and would cost a function call per row on COPY and bulk UPDATEs.

-- The counter key of a recipient row (recipient_count_* below):
--   bucket: its status for accepted rows; otherwise its outcome ('invalid', 'duplicate', 'suppressed');
--   detail: failed -> error_code ('unknown' when null, as the report names it); sending -> send_phase (so a
--           row waiting out its settle window counts as sending/ambiguous, and after it as failed/ambiguous);
--           invalid -> reason; '' otherwise;
--   title:  failed -> error_title ('' when null); '' otherwise. The report shows max(error_title) per code;
--           a maximum cannot be decremented, so titles are part of the key and the report takes the max
--           over the titles whose count is not zero. ('' stands for null: it sorts below every other
--           title, so coalesce(max(title), '') gives the same answer.)
-- send_attempts rows count as bucket 'requests', and those with attempt > 1 also as 'retries'.
--
-- Consistency: the deltas of a statement commit or roll back with it, and compaction moves deltas into
-- counters in one statement, so in every snapshot counters + deltas = the exact counts of the rows that
-- snapshot sees. Forward-only and in one transaction (as every migration): the tables are locked against
-- writers first, so the backfill and the triggers see the same rows.

LOCK TABLE recipients, send_attempts IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION recipient_count_bucket(o row_outcome, s recipient_status) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(s::text, o::text) $$;

CREATE FUNCTION recipient_count_detail(o row_outcome, reason text, s recipient_status, p send_phase, code text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN s = 'failed' THEN coalesce(code, 'unknown')
              WHEN s = 'sending' THEN p::text
              WHEN o = 'invalid' THEN reason
              ELSE '' END
$$;

CREATE FUNCTION recipient_count_title(s recipient_status, title text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT CASE WHEN s = 'failed' THEN coalesce(title, '') ELSE '' END $$;

-- Folded counts. No row for a campaign that no longer exists (the cascade removes them; compaction drops
-- the deltas of a deleted campaign). Counts that fell to zero stay as rows with n = 0 (few: one per key
-- ever seen); readers skip them. Only counters + pending deltas are meaningful: two compactions running at
-- once may fold a row's -1 before another folds its +1, so a counter alone can be briefly negative (no
-- CHECK (n >= 0) for that reason).
CREATE TABLE campaign_counts (
  campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  bucket      text NOT NULL,
  detail      text NOT NULL,
  title       text NOT NULL,
  n           bigint NOT NULL
);
-- Codes and titles come from providers and have no length limit; a b-tree entry has one (about 2.7 kB),
-- so the key holds their hashes.
CREATE UNIQUE INDEX campaign_counts_key ON campaign_counts (campaign_id, bucket, md5(detail), md5(title));

-- Appended by the triggers, deleted by compaction (by ctid: rows are never updated, so a row's ctid stays
-- put while compaction holds its lock). No identity column and no primary key: they would add a sequence
-- call and a second index insert to every delta row (one-row UPDATE loop: 136 -> 111 µs without them, in
-- one noisy run), for nothing compaction needs; deltas may be folded in any order.
CREATE TABLE campaign_count_deltas (
  campaign_id uuid NOT NULL,
  bucket      text NOT NULL,
  detail      text NOT NULL,
  title       text NOT NULL,
  n           bigint NOT NULL CHECK (n <> 0)
);
CREATE INDEX campaign_count_deltas_campaign ON campaign_count_deltas (campaign_id);

-- recipients: one function for the three statement triggers (a trigger with transition tables can fire
-- on one event only). Each branch is one INSERT … SELECT … GROUP BY over the transition table(s). The bulk
-- branches group the raw columns first and build the text key once per group: 5 ms instead of 9 ms for a
-- 20k-row COPY (the enum-to-text casts per row were most of it).
CREATE FUNCTION recipients_count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO campaign_count_deltas (campaign_id, bucket, detail, title, n)
    SELECT campaign_id, recipient_count_bucket(outcome, status),
           recipient_count_detail(outcome, reason, status, send_phase, error_code),
           recipient_count_title(status, error_title), sum(n)
    FROM (SELECT campaign_id, outcome, reason, status, send_phase, error_code, error_title, count(*) AS n
          FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6, 7) g
    GROUP BY 1, 2, 3, 4;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO campaign_count_deltas (campaign_id, bucket, detail, title, n)
    SELECT campaign_id, recipient_count_bucket(outcome, status),
           recipient_count_detail(outcome, reason, status, send_phase, error_code),
           recipient_count_title(status, error_title), -sum(n)
    FROM (SELECT campaign_id, outcome, reason, status, send_phase, error_code, error_title, count(*) AS n
          FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6, 7) g
    GROUP BY 1, 2, 3, 4;
  ELSE
    INSERT INTO campaign_count_deltas (campaign_id, bucket, detail, title, n)
    SELECT campaign_id, b, d, t, sum(n)
    FROM (
      SELECT campaign_id, recipient_count_bucket(outcome, status) AS b,
             recipient_count_detail(outcome, reason, status, send_phase, error_code) AS d,
             recipient_count_title(status, error_title) AS t, -1 AS n
      FROM old_rows
      UNION ALL
      SELECT campaign_id, recipient_count_bucket(outcome, status),
             recipient_count_detail(outcome, reason, status, send_phase, error_code),
             recipient_count_title(status, error_title), 1
      FROM new_rows
    ) x
    GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER recipients_count_insert AFTER INSERT ON recipients
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recipients_count_changes();
CREATE TRIGGER recipients_count_update AFTER UPDATE ON recipients
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recipients_count_changes();
CREATE TRIGGER recipients_count_delete AFTER DELETE ON recipients
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION recipients_count_changes();

-- send_attempts: rows are inserted (attempt_start) and deleted (only with their recipient); the UPDATEs
-- that finish an attempt do not touch what is counted, so no UPDATE trigger runs for them. An UPDATE that
-- does change campaign_id or attempt (nothing does today) is counted row by row.
CREATE FUNCTION send_attempts_count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO campaign_count_deltas (campaign_id, bucket, detail, title, n)
    SELECT s.campaign_id, v.bucket, '', '', v.n
    FROM (SELECT campaign_id, count(*) AS requests, count(*) FILTER (WHERE attempt > 1) AS retries
          FROM new_rows GROUP BY campaign_id) s
    CROSS JOIN LATERAL (VALUES ('requests', s.requests), ('retries', s.retries)) v (bucket, n)
    WHERE v.n <> 0;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO campaign_count_deltas (campaign_id, bucket, detail, title, n)
    SELECT s.campaign_id, v.bucket, '', '', -v.n
    FROM (SELECT campaign_id, count(*) AS requests, count(*) FILTER (WHERE attempt > 1) AS retries
          FROM old_rows GROUP BY campaign_id) s
    CROSS JOIN LATERAL (VALUES ('requests', s.requests), ('retries', s.retries)) v (bucket, n)
    WHERE v.n <> 0;
  ELSE
    -- Row level (UPDATE OF campaign_id, attempt): OLD and NEW.
    INSERT INTO campaign_count_deltas (campaign_id, bucket, detail, title, n)
    SELECT k.campaign_id, k.bucket, '', '', sum(k.n)
    FROM (VALUES (OLD.campaign_id, 'requests', -1), (NEW.campaign_id, 'requests', 1),
                 (OLD.campaign_id, 'retries', CASE WHEN OLD.attempt > 1 THEN -1 ELSE 0 END),
                 (NEW.campaign_id, 'retries', CASE WHEN NEW.attempt > 1 THEN 1 ELSE 0 END)) k (campaign_id, bucket, n)
    GROUP BY 1, 2 HAVING sum(k.n) <> 0;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER send_attempts_count_insert AFTER INSERT ON send_attempts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION send_attempts_count_changes();
CREATE TRIGGER send_attempts_count_delete AFTER DELETE ON send_attempts
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION send_attempts_count_changes();
CREATE TRIGGER send_attempts_count_update AFTER UPDATE OF campaign_id, attempt ON send_attempts
  FOR EACH ROW WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id OR OLD.attempt IS DISTINCT FROM NEW.attempt)
  EXECUTE FUNCTION send_attempts_count_changes();

-- TRUNCATE fires no row or statement DML trigger: forget what the truncated table counted.
CREATE FUNCTION count_changes_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'send_attempts' THEN
    DELETE FROM campaign_count_deltas WHERE bucket IN ('requests', 'retries');
    DELETE FROM campaign_counts WHERE bucket IN ('requests', 'retries');
  ELSE
    DELETE FROM campaign_count_deltas WHERE bucket NOT IN ('requests', 'retries');
    DELETE FROM campaign_counts WHERE bucket NOT IN ('requests', 'retries');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER recipients_count_truncate AFTER TRUNCATE ON recipients
  FOR EACH STATEMENT EXECUTE FUNCTION count_changes_truncated();
CREATE TRIGGER send_attempts_count_truncate AFTER TRUNCATE ON send_attempts
  FOR EACH STATEMENT EXECUTE FUNCTION count_changes_truncated();

-- Backfill: the counts of every existing campaign, straight into campaign_counts (the triggers above do
-- not fire for this INSERT, which is into the counters themselves).
INSERT INTO campaign_counts (campaign_id, bucket, detail, title, n)
SELECT r.campaign_id, recipient_count_bucket(r.outcome, r.status),
       recipient_count_detail(r.outcome, r.reason, r.status, r.send_phase, r.error_code),
       recipient_count_title(r.status, r.error_title), count(*)
FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
GROUP BY 1, 2, 3, 4;

INSERT INTO campaign_counts (campaign_id, bucket, detail, title, n)
SELECT s.campaign_id, v.bucket, '', '', v.n
FROM (SELECT a.campaign_id, count(*) AS requests, count(*) FILTER (WHERE a.attempt > 1) AS retries
      FROM send_attempts a JOIN campaigns c ON c.id = a.campaign_id GROUP BY a.campaign_id) s
CROSS JOIN LATERAL (VALUES ('requests', s.requests), ('retries', s.retries)) v (bucket, n)
WHERE v.n <> 0;
