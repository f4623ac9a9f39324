-- 0003_recipients_statement_fk: the recipients -> campaigns reference, checked once per statement
-- instead of once per row.
--
-- Why: ingest COPYs ~20k rows per chunk into recipients, all of one campaign. The foreign key fired one
-- RI trigger per row (an index probe and a row lock on the same campaign each time): 1.1 s of the 3.4 s
-- that PostgreSQL spent loading 300k rows (B1, measured with psql \copy of the same rows, scratch copy of
-- the schema). A statement trigger over the transition table checks each distinct campaign once and costs
-- nothing measurable (2.35 s with it, 2.35 s without any check).
--
-- The guarantee stays the same: an insert naming a missing campaign fails with foreign_key_violation; the
-- check locks the campaign row FOR KEY SHARE, like the RI trigger, so a concurrent DELETE waits for the
-- insert to commit and then removes its rows too; a recipient cannot move to another campaign.

ALTER TABLE recipients DROP CONSTRAINT recipients_campaign_id_fkey;

CREATE FUNCTION recipients_campaign_exists() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing uuid;
BEGIN
  SELECT n.campaign_id INTO missing
  FROM (SELECT DISTINCT campaign_id FROM new_rows) n
  LEFT JOIN LATERAL (SELECT c.id FROM campaigns c WHERE c.id = n.campaign_id FOR KEY SHARE) c ON true
  WHERE c.id IS NULL
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'insert into recipients violates the reference to campaigns: campaign % does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER recipients_campaign_exists AFTER INSERT ON recipients
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recipients_campaign_exists();

CREATE FUNCTION recipients_campaign_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'recipients.campaign_id cannot change (line % of campaign %)', OLD.line, OLD.campaign_id
    USING ERRCODE = 'foreign_key_violation';
END $$;

CREATE TRIGGER recipients_campaign_fixed BEFORE UPDATE OF campaign_id ON recipients
  FOR EACH ROW WHEN (NEW.campaign_id IS DISTINCT FROM OLD.campaign_id) EXECUTE FUNCTION recipients_campaign_fixed();

-- ON DELETE CASCADE, kept: deleting a campaign deletes its rows (and, through their own key, their attempts).
-- AFTER, not BEFORE: by then the DELETE holds the campaign row, so an insert that locked it FOR KEY SHARE
-- has committed, and this statement's fresh snapshot (READ COMMITTED) sees and removes its rows as well.
CREATE FUNCTION campaigns_delete_recipients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM recipients WHERE campaign_id = OLD.id;
  RETURN NULL;
END $$;

CREATE TRIGGER campaigns_delete_recipients AFTER DELETE ON campaigns
  FOR EACH ROW EXECUTE FUNCTION campaigns_delete_recipients();
