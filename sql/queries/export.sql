-- `campaign export`: every data row of a campaign's input, in input order, one output column per column of
-- interface.md "The export", in its order. src/report/export.ts streams it with COPY (FORMAT text) and
-- writes the CSV itself (src/report/csv.ts); PostgreSQL never holds or sends more than a COPY buffer.
--
-- COPY takes no bind parameters: export.ts puts the campaign id (a checked UUID) in place of $1 as a
-- quoted literal. The scan follows the primary key (campaign_id, line), so no sort, whatever the size.
--
-- outcome: the status of an accepted row, else invalid/duplicate/suppressed. error_code and error_title
-- are the last error of a row that is `failed` (why; `unknown` when no code was recorded, as the report's
-- failures list it) or still `sending` (why it waits for a retry, or `ambiguous`); failed_at only for a
-- `failed` row. A row that moved on (a status webhook delivered it after a settle window had failed it)
-- keeps those columns in the table, but they describe an earlier attempt and are left empty here.
-- Times leave as UTC timestamps in the ISO DateStyle (`2025-03-01 10:00:05.25`, export.ts sets DateStyle
-- on its connection) and export.ts writes them as ISO 8601 UTC with milliseconds (2025-03-01T10:00:05.250Z),
-- as the report writes times: formatting them here with to_char doubled the time COPY took (1,000,000 rows,
-- four time columns: ~5.5 s against ~2.3 s).

-- name: export_rows
SELECT r.line,
       r.phone_input,
       r.phone_e164,
       CASE WHEN r.outcome = 'accepted' THEN r.status::text ELSE r.outcome::text END AS outcome,
       r.reason,
       CASE WHEN r.status = 'failed' THEN coalesce(r.error_code, 'unknown')
            WHEN r.status = 'sending' THEN r.error_code END AS error_code,
       CASE WHEN r.status IN ('failed', 'sending') THEN r.error_title END AS error_title,
       r.message_id,
       r.attempts,
       r.sent_at AT TIME ZONE 'UTC' AS sent_at,
       r.delivered_at AT TIME ZONE 'UTC' AS delivered_at,
       r.read_at AT TIME ZONE 'UTC' AS read_at,
       CASE WHEN r.status = 'failed' THEN r.failed_at AT TIME ZONE 'UTC' END AS failed_at
FROM recipients r
WHERE r.campaign_id = $1
ORDER BY r.line
