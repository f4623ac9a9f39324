-- name: suppression_find_many
SELECT phone_e164 FROM suppressions WHERE phone_e164 = ANY ($1::text[]);

-- name: suppression_add_many
INSERT INTO suppressions (phone_e164, reason, source)
SELECT unnest($1::text[]), $2, $3
ON CONFLICT (phone_e164) DO NOTHING;

-- name: suppression_remove_many
DELETE FROM suppressions WHERE phone_e164 = ANY ($1::text[]) RETURNING phone_e164;

-- name: suppression_list
SELECT phone_e164, reason, source, created_at FROM suppressions ORDER BY created_at DESC, phone_e164;
