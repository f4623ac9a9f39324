-- 0002_ingest_upload: the upload is durable before validation. The CLI streams the file, decoded to UTF-8
-- and cut into chunks of whole records, into ingest_chunks; validation (the CLI itself, or any worker
-- through the campaign-ingest job) reads the chunks in order and advances a checkpoint in the same
-- transaction that stores a chunk's rows, so a crashed ingest resumes where it stopped and stores no row
-- twice. Chunks are deleted once the campaign's ingest is done.

ALTER TABLE campaigns DROP CONSTRAINT campaigns_ingest_state_check;
UPDATE campaigns SET ingest_state = 'done' WHERE ingest_state = 'running';
ALTER TABLE campaigns
  ALTER COLUMN ingest_state SET DEFAULT 'uploading',
  ADD CONSTRAINT campaigns_ingest_state_check CHECK (ingest_state IN ('uploading', 'validating', 'done')),
  ADD COLUMN source_encoding text,
  ADD COLUMN source_delimiter text,
  ADD COLUMN source_record_delimiter text,
  ADD COLUMN source_header text[],
  -- Opt-in parameter normalisation (never silent): {"trim": bool, "collapse_spaces": bool}.
  ADD COLUMN param_options jsonb NOT NULL DEFAULT '{}',
  -- Chunks stored so far; final once ingest_state leaves 'uploading'.
  ADD COLUMN ingest_chunks int NOT NULL DEFAULT 0,
  -- The next chunk to validate (chunk 0 holds the header).
  ADD COLUMN ingest_next_seq int NOT NULL DEFAULT 0,
  ADD CONSTRAINT campaigns_ingest_checkpoint CHECK (ingest_next_seq <= ingest_chunks);

CREATE TABLE ingest_chunks (
  campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  seq         int NOT NULL CHECK (seq >= 0),
  first_line  int NOT NULL CHECK (first_line >= 1),
  -- UTF-8 text, as decoded by the upload: no hex round trip through bytea on either side.
  data        text NOT NULL,
  PRIMARY KEY (campaign_id, seq)
);

-- Campaigns whose file still waits for validation: the maintenance scan hands them to a worker.
CREATE INDEX campaigns_ingesting ON campaigns (created_at) WHERE ingest_state = 'validating';
