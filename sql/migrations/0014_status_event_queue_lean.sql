-- 0014: the reconcile queue without what no query uses. Every stored status inserts a queue row, before
-- the webhook's 200 (B5):
-- - the index on message_id: reconcile walks the queue in event order and probes recipients and
--   send_attempts by message id; nothing looks the queue up by message id;
-- - the foreign key to status_events: one RI check per row, for rows that status_events_insert writes in
--   the same statement as the events they name, in an append-only table nothing deletes from.
ALTER TABLE status_event_queue DROP CONSTRAINT IF EXISTS status_event_queue_event_id_fkey;
DROP INDEX IF EXISTS status_event_queue_message;
