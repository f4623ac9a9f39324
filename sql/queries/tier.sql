-- The messaging-tier budget of a channel (migration 0009; src/send/tier.ts).

-- name: tier_reserve
-- $1 channel, $2 phone, $3 limit. NULL: go; else when the budget frees up.
SELECT tier_reserve($1, $2, $3) AS blocked_until;

-- name: tier_usage
-- $1 channel: unique people counted in the last 24 h, and when the oldest of them leaves the window.
SELECT count(*)::int AS used, min(opened_at) + interval '24 hours' AS frees_at
FROM tier_contacts WHERE channel = $1 AND opened_at > now() - interval '24 hours';

-- name: tier_campaign_need
-- $1 campaign, $2 channel: recipients still to send who are not already counted in the window (each
-- would use one unit of the budget).
SELECT count(*)::int AS need FROM recipients r
WHERE r.campaign_id = $1 AND r.status IN ('queued', 'sending')
  AND NOT EXISTS (SELECT 1 FROM tier_contacts c WHERE c.channel = $2 AND c.phone_e164 = r.phone_e164
                  AND c.opened_at > now() - interval '24 hours');

-- name: tier_contacts_prune
-- Openings older than the window count for nothing; the maintenance scan drops them.
DELETE FROM tier_contacts WHERE opened_at < now() - interval '25 hours';
