-- GET /metrics: gauges read on each scrape (src/metrics.ts). Each reads a small table or the maintained
-- counters, never the recipients themselves.

-- name: metrics_recipients_by_state
-- Accepted recipients of every campaign by status, from the report's counters (0007_report_counters): the
-- folded counts plus the pending deltas of campaigns that still exist (a deleted campaign's deltas wait for
-- compaction to drop them). A few rows per campaign, whatever the campaigns' sizes.
SELECT bucket AS state, sum(n)::bigint AS n
FROM (
  SELECT bucket, n FROM campaign_counts
  WHERE bucket IN ('queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'failed')
  UNION ALL
  SELECT d.bucket, d.n FROM campaign_count_deltas d
  WHERE d.bucket IN ('queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'failed')
    AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = d.campaign_id)
) u
GROUP BY bucket;

-- name: metrics_campaigns_by_state
SELECT state::text AS state, count(*)::bigint AS n FROM campaigns GROUP BY state;

-- name: metrics_boss_queues
-- pg-boss's own counts per queue, as its monitor last wrote them (every 60 s by default; no job-table scan):
-- jobs waiting (queued, deferred ones included) and jobs being worked on.
SELECT name, queued_count::bigint AS queued, active_count::bigint AS active FROM pgboss.queue;
