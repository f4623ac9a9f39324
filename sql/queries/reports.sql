-- name: report_status_counts
SELECT status::text AS status, count(*)::int AS n FROM recipients
WHERE campaign_id = $1 AND outcome = 'accepted'
GROUP BY status;

-- name: report_ambiguous_count
SELECT count(*)::int AS n FROM recipients
WHERE campaign_id = $1 AND outcome = 'accepted'
  AND (send_phase = 'ambiguous' OR (status = 'failed' AND error_code = 'ambiguous'));

-- name: report_failures
SELECT coalesce(error_code, 'unknown') AS code, coalesce(max(error_title), '') AS title, count(*)::int AS count
FROM recipients
WHERE campaign_id = $1 AND status = 'failed'
GROUP BY coalesce(error_code, 'unknown')
ORDER BY count DESC, code
LIMIT 20;

-- name: report_attempts
SELECT count(*)::int AS requests, count(*) FILTER (WHERE attempt > 1)::int AS retries
FROM send_attempts WHERE campaign_id = $1;
