-- name: ingest_chunk_insert
-- $1 campaign, $2 seq, $3 first line, $4 bytes. Stored once: a re-sent chunk changes nothing.
WITH ins AS (
  INSERT INTO ingest_chunks (campaign_id, seq, first_line, data) VALUES ($1, $2, $3, $4)
  ON CONFLICT (campaign_id, seq) DO NOTHING
  RETURNING seq
)
UPDATE campaigns SET ingest_chunks = greatest(ingest_chunks, $2 + 1)
WHERE id = $1 AND ingest_state = 'uploading';

-- name: ingest_upload_finish
-- uploading -> validating: every chunk of the file is stored.
UPDATE campaigns SET ingest_state = 'validating'
WHERE id = $1 AND ingest_state = 'uploading'
RETURNING id;

-- name: ingest_status
SELECT ingest_state, ingest_chunks, ingest_next_seq FROM campaigns WHERE id = $1;

-- name: ingest_chunk_get
SELECT first_line, data FROM ingest_chunks WHERE campaign_id = $1 AND seq = $2;

-- name: ingest_store_work_mem
-- First in the transaction that stores a chunk. The statement triggers on recipients keep the COPY's
-- rows in a transition table, which at the default 4 MB went to a temporary file for every chunk of
-- 20,000 rows: 3.5 MB written and read back each time, 176 MB for the B1 file's 1,000,000 rows. 32 MB
-- holds a chunk's rows (1 MiB of CSV) with room to spare, for this transaction only.
SET LOCAL work_mem = '32MB';

-- name: ingest_checkpoint_advance
-- Moves the checkpoint past chunk $2, in the transaction that stored the chunk's rows; a chunk already
-- past the checkpoint (another process got there first) matches nothing and the transaction rolls back.
UPDATE campaigns SET ingest_next_seq = $2 + 1
WHERE id = $1 AND ingest_next_seq = $2
RETURNING id;

-- name: ingest_accepted_numbers
SELECT phone_e164 FROM recipients WHERE campaign_id = $1 AND outcome = 'accepted';

-- name: ingest_chunks_delete
DELETE FROM ingest_chunks WHERE campaign_id = $1;

-- name: campaign_list_ingesting
SELECT id FROM campaigns WHERE ingest_state = 'validating' ORDER BY created_at;
