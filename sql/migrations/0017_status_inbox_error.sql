-- 0017: why PostgreSQL refused to expand an inbox row (src/reconcile/reconcile.ts expandInbox). It
-- should never happen (src/callbacks/store.ts writes only values PostgreSQL accepts); such a row is kept
-- as it was received, with the error, and skipped, so it cannot stop the rows after it.
ALTER TABLE status_inbox ADD COLUMN IF NOT EXISTS error text;
