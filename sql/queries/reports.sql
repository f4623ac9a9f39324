-- The report's counts come from campaign_counts plus the campaign's pending campaign_count_deltas
-- (0007_report_counters): a few dozen rows per campaign, read through (campaign_id) indexes, whatever the
-- campaign's size. Both are read in one statement, so in one snapshot: a compaction that moves deltas
-- into counters is either wholly seen or not at all.

-- name: report_counts
-- Every non-zero count of campaign $1: one row per (bucket, detail), bucket being a recipient status, an
-- ingest outcome other than accepted, or 'requests'/'retries'. `title` is the largest error title of the
-- failed rows of that code ('' when none, as the report shows it). `rank` orders the failed codes as the
-- report lists them (most frequent first, then by code in the database's collation).
SELECT bucket, detail, max(title) AS title, sum(n)::bigint AS n,
       CASE WHEN bucket = 'failed' THEN row_number() OVER (PARTITION BY bucket = 'failed' ORDER BY sum(n) DESC, detail) END AS rank
FROM (
  SELECT bucket, detail, title, sum(n) AS n
  FROM (
    SELECT bucket, detail, title, n FROM campaign_counts WHERE campaign_id = $1
    UNION ALL
    SELECT bucket, detail, title, n FROM campaign_count_deltas WHERE campaign_id = $1
  ) u
  GROUP BY bucket, detail, title
  HAVING sum(n) <> 0
) k
GROUP BY bucket, detail;

-- name: report_status_counts
-- Recipients per status (statuses with none are left out), from the counters.
SELECT bucket AS status, sum(n)::int AS n
FROM (
  SELECT bucket, n FROM campaign_counts WHERE campaign_id = $1
  UNION ALL
  SELECT bucket, n FROM campaign_count_deltas WHERE campaign_id = $1
) u
WHERE bucket IN ('queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'failed')
GROUP BY bucket
HAVING sum(n) <> 0;

-- name: report_counts_compact
-- Fold up to $1 deltas into campaign_counts, in this one statement (so one transaction). Safe with any
-- number of compactions at once: each takes deltas no other holds (SKIP LOCKED; the order deltas are
-- folded in does not matter, a counter is only read summed with the pending deltas); campaigns are locked
-- FOR KEY SHARE before any counter row (the Sort below reads its whole input first), and counter rows are
-- upserted in key order, so two compactions, or a compaction and a campaign delete (campaign row, then
-- its counters through the cascade), always lock in the same order and cannot deadlock. Deltas of a
-- campaign that no longer exists are dropped.
WITH gone AS (
  DELETE FROM campaign_count_deltas
  WHERE ctid = ANY (ARRAY(SELECT ctid FROM campaign_count_deltas LIMIT $1 FOR UPDATE SKIP LOCKED))
  RETURNING campaign_id, bucket, detail, title, n
), sums AS (
  SELECT campaign_id, bucket, detail, title, sum(n)::bigint AS n FROM gone GROUP BY 1, 2, 3, 4
), live AS (
  SELECT c.id FROM campaigns c WHERE c.id IN (SELECT campaign_id FROM sums) ORDER BY c.id FOR KEY SHARE
), folded AS (
  INSERT INTO campaign_counts AS k (campaign_id, bucket, detail, title, n)
  SELECT s.campaign_id, s.bucket, s.detail, s.title, s.n
  FROM sums s JOIN live l ON l.id = s.campaign_id
  WHERE s.n <> 0
  ORDER BY s.campaign_id, s.bucket, md5(s.detail), md5(s.title)
  ON CONFLICT (campaign_id, bucket, md5(detail), md5(title)) DO UPDATE SET n = k.n + excluded.n
  RETURNING 1
)
SELECT (SELECT count(*) FROM gone)::int AS deltas, (SELECT count(*) FROM folded)::int AS counters;

-- The reference: the same figures counted from the rows themselves, linear in the campaign's size. Not on
-- any request path; the tests compare the counters with them, and B6 times them as its baseline.

-- name: report_scan_status_counts
SELECT status::text AS status, count(*)::int AS n FROM recipients
WHERE campaign_id = $1 AND outcome = 'accepted'
GROUP BY status;

-- name: report_scan_ambiguous_count
SELECT count(*)::int AS n FROM recipients
WHERE campaign_id = $1 AND outcome = 'accepted'
  AND (send_phase = 'ambiguous' OR (status = 'failed' AND error_code = 'ambiguous'));

-- name: report_scan_failures
SELECT coalesce(error_code, 'unknown') AS code, coalesce(max(error_title), '') AS title, count(*)::int AS count
FROM recipients
WHERE campaign_id = $1 AND status = 'failed'
GROUP BY coalesce(error_code, 'unknown')
ORDER BY count DESC, code
LIMIT 20;

-- name: report_scan_attempts
SELECT count(*)::int AS requests, count(*) FILTER (WHERE attempt > 1)::int AS retries
FROM send_attempts WHERE campaign_id = $1;
