import type { PgBoss } from 'pg-boss';
import type { QueueDef } from '../src/boss.ts';
import { sendCampaign, type SendContext } from '../src/send/sender.ts';

/**
 * One job = one campaign's sending for up to 30 s, then it hands over to a fresh job. `short` with the
 * campaign id as singleton key keeps at most one job per campaign *queued*, however many workers and
 * scanners ask for it, and lets several be active: every worker can send the same campaign (they share
 * the channel's limit, and the claims, FOR UPDATE SKIP LOCKED, keep them apart). Not `stately` (at most
 * one active): the active job of a SIGKILLed worker would block its campaign until pg-boss expires it,
 * 5 minutes (found by test/worker.crash.test.ts). The job only orchestrates: the recipient rows decide
 * what is sent, so a job that pg-boss retries (expiry, a stop that timed out) cannot send anything twice.
 * Renamed from `campaign-send` (policy stately): a queue's policy cannot change once created.
 */
export const CAMPAIGN_SEND: QueueDef = {
  name: 'campaign-send-v2',
  options: { policy: 'short', retryLimit: 3, retryDelay: 2, expireInSeconds: 300, deleteAfterSeconds: 3600 },
};

/** Campaigns this process is sending now: a second job for one of them here would only add contention. */
const sendingHere = new Set<string>();

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
    // The run already going here re-enqueues when its 30 s are up.
    if (sendingHere.has(campaignId)) return { requests: 0, state: 'already sending in this worker' };
    sendingHere.add(campaignId);
    try {
      const result = await sendCampaign(ctx, campaignId);
      if (result.state === 'more') await enqueueCampaignSend(boss, campaignId, result.nextAt);
      return { requests: result.requests, state: result.state };
    } finally {
      sendingHere.delete(campaignId);
    }
  });
}
