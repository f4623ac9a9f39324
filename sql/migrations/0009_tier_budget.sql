-- 0009_tier_budget: the messaging tier (WA_MESSAGING_TIER: 250, 2000, 10000, 100000 or unlimited) limits
-- how many unique people a business starts conversations with in any rolling 24 hours. Each channel's
-- budget is kept here: a person counts from the first message in a window (`opened_at`) for 24 hours,
-- and messages to them within that time cost nothing more.

CREATE TABLE tier_contacts (
  channel    text NOT NULL,
  phone_e164 text NOT NULL,
  opened_at  timestamptz NOT NULL,
  PRIMARY KEY (channel, phone_e164)
);
CREATE INDEX tier_contacts_window ON tier_contacts (channel, opened_at);

-- Reserve the budget for one message to p_phone on p_channel under p_limit: NULL when it may go (the
-- person is counted now, or already was within 24 h), else the time the budget frees up (the oldest
-- opening in the window + 24 h). Serialised per channel by an advisory lock, so two workers cannot both
-- take the last unit. The count reads the window's index: ~1 ms at 10,000 people.
CREATE FUNCTION tier_reserve(p_channel text, p_phone text, p_limit int) RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
  t      timestamptz := clock_timestamp();
  used   int;
  oldest timestamptz;
BEGIN
  PERFORM 1 FROM tier_contacts
  WHERE channel = p_channel AND phone_e164 = p_phone AND opened_at > t - interval '24 hours';
  IF FOUND THEN RETURN NULL; END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('tier:' || p_channel, 0));
  t := clock_timestamp();
  SELECT count(*), min(opened_at) INTO used, oldest FROM tier_contacts
  WHERE channel = p_channel AND opened_at > t - interval '24 hours';
  IF used >= p_limit THEN RETURN oldest + interval '24 hours'; END IF;
  INSERT INTO tier_contacts (channel, phone_e164, opened_at) VALUES (p_channel, p_phone, t)
  ON CONFLICT (channel, phone_e164) DO UPDATE SET opened_at = EXCLUDED.opened_at;
  RETURN NULL;
END $$;
