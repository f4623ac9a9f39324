-- 0016: the webhook inbox. A webhook's 200 waits for its statuses to be durable; until now that meant
-- one status_events row and one status_event_queue row per status, each parsed and indexed before the
-- answer. Now a flush of webhooks (src/callbacks/inbox.ts) stores one status_inbox row: the statuses as
-- one JSON array (src/callbacks/store.ts statusesJson), and reconcile moves them into status_events and
-- the queue (status_inbox_expand) before it applies them. PostgreSQL's CPU per flush of 7 webhooks of
-- 10 statuses: 0.77–1.17 ms as events and queue rows (a prepared statement), 0.16–0.18 ms as one inbox
-- row (scratch tables, 600 flushes each, synchronous_commit on).
--
-- `body` is text, not json: it is written by JSON.stringify and read back as json by the expansion,
-- which checks it then; a json column would parse it once more before the 200. `events` counts its
-- statuses (the reconcile queue depth counts the inbox too). lz4 where the server has it, as in 0015.
CREATE TABLE status_inbox (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at timestamptz NOT NULL DEFAULT now(),
  events      integer NOT NULL CHECK (events > 0),
  body        text NOT NULL
);

DO $$
BEGIN
  EXECUTE 'ALTER TABLE status_inbox ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this server has no lz4: status_inbox stays with pglz';
END $$;
