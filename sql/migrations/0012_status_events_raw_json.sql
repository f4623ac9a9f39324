-- 0012: status_events.raw as json (validated text) instead of jsonb. The raw status is kept for audit
-- and never queried inside: jsonb's conversion to its binary form was the dearest part of storing a
-- webhook's statuses before the 200 (100,000 inserts from text: jsonb 0.70–0.79 s, json 0.47–0.63 s,
-- psql on this machine). json still refuses a body that is not JSON.
ALTER TABLE status_events ALTER COLUMN raw TYPE json USING raw::json;
