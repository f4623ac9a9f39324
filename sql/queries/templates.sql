-- name: template_upsert
-- Registering a template again (same name and language) replaces its copy: WhatsApp Manager is the truth.
INSERT INTO templates (name, language, category, body, header_format, header_text, url_button, parameter_format, slots)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (name, language) DO UPDATE SET
  category = EXCLUDED.category, body = EXCLUDED.body, header_format = EXCLUDED.header_format,
  header_text = EXCLUDED.header_text, url_button = EXCLUDED.url_button,
  parameter_format = EXCLUDED.parameter_format, slots = EXCLUDED.slots, updated_at = now()
RETURNING *;

-- name: template_list
SELECT * FROM templates ORDER BY name, language;

-- name: template_get
SELECT * FROM templates WHERE name = $1 AND language = $2;

-- name: template_get_by_id
SELECT * FROM templates WHERE id = $1;
