-- 0001_init: the first schema. The state machines it enforces are written down in docs/state-machines.md;
-- every state change in sql/queries is a guarded UPDATE (`... WHERE state = 'running'`), and the CHECKs
-- below refuse any row that no transition could have produced.

CREATE TYPE campaign_state AS ENUM ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled');
-- A recipient's furthest state; the order of the labels is the order of progress (see reconcile).
CREATE TYPE recipient_status AS ENUM ('queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'failed');
-- Only while status = 'sending': where the request stands.
CREATE TYPE send_phase AS ENUM ('claimed', 'in_flight', 'retry_wait', 'ambiguous');
CREATE TYPE row_outcome AS ENUM ('accepted', 'invalid', 'duplicate', 'suppressed');

CREATE TABLE templates (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name             text NOT NULL,
  language         text NOT NULL,
  category         text NOT NULL CHECK (category IN ('marketing', 'utility', 'authentication')),
  body             text NOT NULL,
  header_format    text CHECK (header_format IN ('text', 'image', 'video', 'document')),
  header_text      text,
  url_button       boolean NOT NULL DEFAULT false,
  parameter_format text NOT NULL CHECK (parameter_format IN ('positional', 'named')),
  slots            text[] NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (name, language),
  CHECK (coalesce(header_format = 'text', false) = (header_text IS NOT NULL))
);

CREATE TABLE campaigns (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name             text NOT NULL,
  template_id      bigint NOT NULL REFERENCES templates (id),
  channel          text NOT NULL,
  state            campaign_state NOT NULL DEFAULT 'draft',
  pause_reason     text,
  -- How rows become recipients: the phone column, slot -> column, the country for national numbers.
  phone_column     text NOT NULL,
  param_map        jsonb NOT NULL,
  default_country  text,
  source_file      text,
  -- Ingest: 'done' once every row of the file has its outcome; counts are final from then on.
  ingest_state     text NOT NULL DEFAULT 'running' CHECK (ingest_state IN ('running', 'done')),
  ingest_rows      int NOT NULL DEFAULT 0,
  ingest_accepted  int NOT NULL DEFAULT 0,
  ingest_invalid   int NOT NULL DEFAULT 0,
  ingest_duplicate int NOT NULL DEFAULT 0,
  ingest_suppressed int NOT NULL DEFAULT 0,
  invalid_reasons  jsonb NOT NULL DEFAULT '{}',
  start_at         timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  completed_at     timestamptz,
  cancelled_at     timestamptz,
  CHECK ((state = 'paused') = (pause_reason IS NOT NULL)),
  CHECK ((state = 'completed') = (completed_at IS NOT NULL)),
  CHECK ((state = 'cancelled') = (cancelled_at IS NOT NULL)),
  CHECK (state <> 'scheduled' OR start_at IS NOT NULL),
  CHECK (state IN ('draft', 'scheduled') OR started_at IS NOT NULL OR state = 'cancelled')
);
CREATE INDEX campaigns_created ON campaigns (created_at DESC);
CREATE INDEX campaigns_active ON campaigns (state) WHERE state IN ('scheduled', 'running');

-- One row per data row of the CSV: its line, what was typed, and its outcome. Accepted rows are the
-- recipients and carry a status; the others keep their reason for the export.
CREATE TABLE recipients (
  campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  line         int NOT NULL,
  phone_input  text NOT NULL,
  phone_e164   text,
  params       jsonb,
  outcome      row_outcome NOT NULL,
  reason       text CHECK (reason IN ('malformed_row', 'invalid_phone', 'missing_param', 'invalid_param')),
  detail       text,
  status       recipient_status,
  send_phase   send_phase,
  claimed_by   text,
  claimed_at   timestamptz,
  retry_at     timestamptz,
  attempts     int NOT NULL DEFAULT 0,
  message_id   text,
  error_code   text,
  error_title  text,
  accepted_at  timestamptz,
  sent_at      timestamptz,
  delivered_at timestamptz,
  read_at      timestamptz,
  failed_at    timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (campaign_id, line),
  CHECK ((outcome = 'accepted') = (status IS NOT NULL)),
  CHECK ((outcome = 'invalid') = (reason IS NOT NULL)),
  CHECK (outcome = 'invalid' OR phone_e164 IS NOT NULL),
  CHECK (outcome <> 'accepted' OR params IS NOT NULL),
  CHECK (coalesce(status = 'sending', false) = (send_phase IS NOT NULL)),
  CHECK (coalesce(send_phase IN ('claimed', 'in_flight'), false) = (claimed_by IS NOT NULL)),
  CHECK (send_phase IS DISTINCT FROM 'retry_wait' OR retry_at IS NOT NULL),
  CHECK (status NOT IN ('accepted', 'sent', 'delivered', 'read') OR message_id IS NOT NULL)
);
-- "Impossible to send twice" starts here: one accepted row per number per campaign.
CREATE UNIQUE INDEX recipients_one_per_number ON recipients (campaign_id, phone_e164) WHERE outcome = 'accepted';
CREATE INDEX recipients_queued ON recipients (campaign_id, line) WHERE status = 'queued';
CREATE INDEX recipients_sending ON recipients (campaign_id, send_phase, retry_at) WHERE status = 'sending';
CREATE INDEX recipients_message ON recipients (message_id) WHERE message_id IS NOT NULL;

-- Every request to a provider, recorded before it leaves (finished_at null = in flight or in doubt).
CREATE TABLE send_attempts (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  campaign_id  uuid NOT NULL,
  line         int NOT NULL,
  attempt      int NOT NULL CHECK (attempt > 0),
  worker       text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  result       text CHECK (result IN ('accepted', 'retry', 'delay', 'failed', 'paused', 'ambiguous')),
  http_status  int,
  error_code   text,
  error_title  text,
  message_id   text,
  UNIQUE (campaign_id, line, attempt),
  FOREIGN KEY (campaign_id, line) REFERENCES recipients (campaign_id, line) ON DELETE CASCADE,
  CHECK ((finished_at IS NULL) = (result IS NULL))
);

-- The callback inbox: every status exactly as received, append-only (never updated or deleted).
CREATE TABLE status_events (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at  timestamptz NOT NULL DEFAULT now(),
  provider     text NOT NULL,
  message_id   text NOT NULL,
  status       text NOT NULL CHECK (status IN ('accepted', 'sent', 'delivered', 'read', 'failed')),
  occurred_at  timestamptz,
  recipient_id text,
  error_code   text,
  error_title  text,
  raw          jsonb NOT NULL
);
CREATE INDEX status_events_message ON status_events (message_id);

-- Events not yet applied to a recipient. An event whose message id is not recorded yet (the webhook beat
-- the send response) stays here until the send is recorded; reconcile deletes what it applies.
CREATE TABLE status_event_queue (
  event_id    bigint PRIMARY KEY REFERENCES status_events (id),
  message_id  text NOT NULL
);
CREATE INDEX status_event_queue_message ON status_event_queue (message_id);

-- Numbers that opted out: never sent to.
CREATE TABLE suppressions (
  phone_e164  text PRIMARY KEY,
  reason      text NOT NULL,
  source      text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- The last inbound message per number: the 24-hour customer-service window.
CREATE TABLE inbound_windows (
  phone        text PRIMARY KEY,
  last_inbound_at timestamptz NOT NULL
);

-- Live workers; a claim whose worker stopped beating is rescued (see maintenance).
CREATE TABLE workers (
  id           text PRIMARY KEY,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- How far a status has progressed. `failed` outranks `accepted` and `sent` (a message that failed after it
-- was sent failed), but not `delivered` or `read`: what reached the phone cannot fail afterwards.
CREATE FUNCTION recipient_status_rank(s recipient_status) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE s WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'accepted' THEN 2 WHEN 'sent' THEN 3
                WHEN 'failed' THEN 4 WHEN 'delivered' THEN 5 WHEN 'read' THEN 6 END
$$;
