import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { QueueDef } from '../src/boss.ts';
import type { Db } from '../src/db/executor.ts';
import type { Logger } from '../src/log.ts';
import { fireSchedule, type Firing } from '../src/schedules/fire.ts';

/**
 * Decide one firing of a recurring campaign: skip it, queue it, or create and start its run. The firing
 * itself was claimed once (a row keyed by schedule and time) by the maintenance scan; this job may run
 * twice for it (a retry, a scan that re-asks while it is pending) and still makes at most one run.
 */
export const SCHEDULE_FIRE: QueueDef = {
  name: 'schedule-fire',
  options: { policy: 'short', retryLimit: 5, retryDelay: 5, expireInSeconds: 900, deleteAfterSeconds: 3600 },
};

interface FireData {
  scheduleId: string;
  fireAt: string;
}

export function enqueueScheduleFire(boss: PgBoss, f: Firing): Promise<string | null> {
  return boss.send(SCHEDULE_FIRE.name, { scheduleId: f.scheduleId, fireAt: f.fireAt.toISOString() } satisfies FireData, {
    singletonKey: `${f.scheduleId}@${f.fireAt.toISOString()}`,
  });
}

export async function registerScheduleFire(boss: PgBoss, io: { db: Db; pool: pg.Pool; log: Logger }): Promise<string> {
  return boss.work<FireData>(SCHEDULE_FIRE.name, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => {
    if (!job) return;
    const r = await fireSchedule(io, { scheduleId: job.data.scheduleId, fireAt: new Date(job.data.fireAt) }, io.log);
    return r;
  });
}
