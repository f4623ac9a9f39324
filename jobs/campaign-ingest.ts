import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { QueueDef } from '../src/boss.ts';
import type { Logger } from '../src/log.ts';
import { processIngest } from '../src/ingest/process.ts';

/**
 * Validate a campaign's uploaded file. `campaign create` validates it itself while it waits; this job is
 * how a worker takes over (`--no-wait`, or a CLI that died mid-way). The maintenance scan asks for it
 * every second for every campaign still validating; the per-campaign advisory lock in processIngest makes
 * a second runner return at once, and the checkpoint makes a resumed run store nothing twice.
 */
export const CAMPAIGN_INGEST: QueueDef = {
  // `short` (one queued per campaign, any number active), not `stately`: the job left active by a killed
  // worker would block the campaign's validation until it expired, an hour. The advisory lock is what
  // keeps runners apart. Renamed from `campaign-ingest`: a queue's policy cannot change once created.
  name: 'campaign-ingest-v2',
  options: { policy: 'short', retryLimit: 3, retryDelay: 5, expireInSeconds: 3600, deleteAfterSeconds: 3600 },
};

export function enqueueCampaignIngest(boss: PgBoss, campaignId: string): Promise<string | null> {
  return boss.send(CAMPAIGN_INGEST.name, { campaignId }, { singletonKey: campaignId });
}

export async function registerCampaignIngest(boss: PgBoss, pool: pg.Pool, log: Logger): Promise<string> {
  return boss.work<{ campaignId: string }>(CAMPAIGN_INGEST.name, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => {
    if (!job) return;
    const summary = await processIngest(pool, job.data.campaignId, log);
    return summary ? { rows: summary.rows } : { busy: true };
  });
}
