-- 0008_schedules: recurring campaigns (interface.md "Recurring campaigns", docs/state-machines.md).
--
-- A recurring campaign is a campaigns row with `cron`: it keeps the template, the mapping, the channel and
-- the CSV's path, has no recipients and never sends. `scheduled` while its schedule is active (start_at
-- NULL: the cron decides), `paused` while paused, `cancelled` once removed. Each firing creates a run: a
-- campaign with `parent_id` and `fire_at`, ingested from the file as it is then, then started.
--
-- At most one run per firing, by construction: every firing is first claimed as a row of
-- schedule_firings (primary key: schedule, firing time), and a run carries its firing in a unique index.
-- Two workers that see the same due firing race on that key; one inserts, the other gets nothing.

ALTER TABLE campaigns
  ADD COLUMN parent_id   uuid REFERENCES campaigns (id),
  ADD COLUMN fire_at     timestamptz,
  ADD COLUMN cron        text,
  ADD COLUMN cron_tz     text,
  ADD COLUMN next_run_at timestamptz,
  -- What a firing does when the previous run is still sending: skip it (default), or queue it.
  ADD COLUMN overlap     text CHECK (overlap IN ('skip', 'queue')),
  ADD CONSTRAINT campaigns_recurring CHECK ((cron IS NULL) = (cron_tz IS NULL) AND (cron IS NULL) = (overlap IS NULL)),
  ADD CONSTRAINT campaigns_recurring_not_run CHECK (cron IS NULL OR parent_id IS NULL),
  ADD CONSTRAINT campaigns_run_firing CHECK ((parent_id IS NULL) = (fire_at IS NULL)),
  ADD CONSTRAINT campaigns_recurring_states CHECK (cron IS NULL OR state IN ('scheduled', 'paused', 'cancelled')),
  ADD CONSTRAINT campaigns_recurring_next CHECK (cron IS NULL OR state <> 'scheduled' OR next_run_at IS NOT NULL);

-- A scheduled one-off campaign has its start time; a recurring one has its cron instead.
ALTER TABLE campaigns DROP CONSTRAINT campaigns_check3;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_scheduled_when CHECK (state <> 'scheduled' OR start_at IS NOT NULL OR cron IS NOT NULL);

CREATE UNIQUE INDEX campaigns_one_run_per_firing ON campaigns (parent_id, fire_at) WHERE parent_id IS NOT NULL;
CREATE INDEX campaigns_recurring_due ON campaigns (next_run_at) WHERE cron IS NOT NULL AND state = 'scheduled';

CREATE TABLE schedule_firings (
  schedule_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  fire_at     timestamptz NOT NULL,
  -- pending: claimed, the run is being created; created: run_id made; skipped: the previous run was
  -- still sending (overlap skip), or another firing was already waiting; queued: waits for the previous
  -- run to finish (overlap queue); failed: the file could not be read (detail says why).
  outcome     text NOT NULL CHECK (outcome IN ('pending', 'created', 'skipped', 'queued', 'failed')),
  run_id      uuid REFERENCES campaigns (id) ON DELETE SET NULL,
  detail      text,
  claimed_at  timestamptz NOT NULL DEFAULT now(),
  decided_at  timestamptz,
  PRIMARY KEY (schedule_id, fire_at),
  -- Only a created firing names a run (which may be deleted later: ON DELETE SET NULL).
  CHECK (run_id IS NULL OR outcome = 'created')
);
CREATE INDEX schedule_firings_open ON schedule_firings (claimed_at) WHERE outcome IN ('pending', 'queued');
