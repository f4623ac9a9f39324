-- name: suppression_find_many
-- $1: E.164 numbers joined by commas. Ingest asks once per chunk for ~20k numbers; as a text[] parameter
-- the array literal (20k quoted elements built and escaped on the main thread, parsed by the server)
-- cost 1.8 s per 1M rows on the critical path of B1; one plain string, built by the validation thread,
-- costs a split.
SELECT phone_e164 FROM suppressions WHERE phone_e164 = ANY (string_to_array($1::text, ','));

-- name: suppression_add_many
INSERT INTO suppressions (phone_e164, reason, source)
SELECT unnest($1::text[]), $2, $3
ON CONFLICT (phone_e164) DO NOTHING;

-- name: suppression_remove_many
DELETE FROM suppressions WHERE phone_e164 = ANY ($1::text[]) RETURNING phone_e164;

-- name: suppression_list
SELECT phone_e164, reason, source, created_at FROM suppressions ORDER BY created_at DESC, phone_e164;
