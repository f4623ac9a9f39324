import type { PgBoss } from 'pg-boss';
import type { QueueDef } from '../src/boss.ts';
import { sendCampaign, type SendContext } from '../src/send/sender.ts';

/**
 * One job = one campaign's sending for up to 30 s, then it hands over to a fresh job. `stately` with the
 * campaign id as singleton key keeps at most one queued and one active job per campaign, however many
 * workers and scanners ask for it. The job only orchestrates: the recipient rows decide what is sent, so
 * a job that pg-boss retries (expiry, a stop that timed out) cannot send anything twice.
 */
export const CAMPAIGN_SEND: QueueDef = {
  name: 'campaign-send',
  options: { policy: 'stately', retryLimit: 3, retryDelay: 2, expireInSeconds: 300, deleteAfterSeconds: 3600 },
};

export interface CampaignSendData {
  campaignId: string;
}

export function enqueueCampaignSend(boss: PgBoss, campaignId: string, startAfter?: Date | null): Promise<string | null> {
  return boss.send(CAMPAIGN_SEND.name, { campaignId } satisfies CampaignSendData, {
    singletonKey: campaignId,
    ...(startAfter && startAfter > new Date() ? { startAfter } : {}),
  });
}

export async function registerCampaignSend(boss: PgBoss, ctx: SendContext): Promise<string> {
  return boss.work<CampaignSendData>(CAMPAIGN_SEND.name, { batchSize: 1, localConcurrency: 4, pollingIntervalSeconds: 0.5 }, async ([job]) => {
    if (!job) return;
    const { campaignId } = job.data;
    const result = await sendCampaign(ctx, campaignId);
    if (result.state === 'more') await enqueueCampaignSend(boss, campaignId, result.nextAt);
    return { requests: result.requests, state: result.state };
  });
}
