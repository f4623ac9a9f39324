import type { PgBoss } from 'pg-boss';
import type { QueueDef } from '../src/boss.ts';
import type { Db } from '../src/db/executor.ts';
import type { Logger } from '../src/log.ts';
import { runMaintenance } from '../src/send/maintenance.ts';
import { enqueueCampaignSend } from './campaign-send.ts';
import { enqueueCampaignIngest } from './campaign-ingest.ts';
import { enqueueScheduleFire } from './schedule-fire.ts';
import { claimDueFirings } from '../src/schedules/fire.ts';

/**
 * The scanner: every second (each worker asks; `stately` folds the asks into one run) it starts scheduled
 * campaigns that are due, rescues what dead workers left, and makes sure every running campaign has a
 * send job and every campaign whose file awaits validation has an ingest job. A worker that starts after
 * an outage picks everything up from here.
 */
export const MAINTENANCE: QueueDef = {
  // `short`, not `stately`: a run left active by a SIGKILLed worker must not block the next one until it
  // expires (every statement of a run is guarded, so two overlapping runs are harmless).
  name: 'maintenance-v2',
  options: { policy: 'short', retryLimit: 0, expireInSeconds: 60, deleteAfterSeconds: 60 },
};

const PRUNE_EVERY_MS = 60_000;
let lastPrune = 0;

export function enqueueMaintenance(boss: PgBoss): Promise<string | null> {
  return boss.send(MAINTENANCE.name, {}, { singletonKey: 'tick' });
}

export async function registerMaintenance(boss: PgBoss, db: Db, log: Logger, settleS: number): Promise<string> {
  return boss.work(MAINTENANCE.name, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async () => {
    const r = await runMaintenance(db, settleS);
    if (r.started.length || r.requeued || r.ambiguous || r.settled) log.info(r, 'maintenance');
    const running = (await db.q<{ id: string }>('campaign_list_running')).rows;
    for (const c of running) await enqueueCampaignSend(boss, c.id);
    const ingesting = (await db.q<{ id: string }>('campaign_list_ingesting')).rows;
    for (const c of ingesting) await enqueueCampaignIngest(boss, c.id);
    // Recurring campaigns: claim what is due (once, whichever worker gets there first), then hand every
    // open firing (just claimed, waiting for its previous run, or orphaned by a dead worker) to a job.
    const fired = await claimDueFirings(db);
    if (fired.length > 0) log.info({ firings: fired.map((f) => `${f.scheduleId}@${f.fireAt.toISOString()}`) }, 'recurring campaigns due');
    const open = (await db.q<{ schedule_id: string; fire_at: Date }>('schedule_firings_open')).rows;
    for (const f of open) await enqueueScheduleFire(boss, { scheduleId: f.schedule_id, fireAt: f.fire_at });
    // Tier budget: openings older than the 24-hour window count for nothing (a minute apart is plenty).
    if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      await db.q('tier_contacts_prune');
    }
    return { ...r, running: running.length, ingesting: ingesting.length, firings: fired.length };
  });
}
