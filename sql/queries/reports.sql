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

-- name: report_ingest_live
-- While a file is still being validated the campaign's ingest counts are not final yet: count the rows.
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
